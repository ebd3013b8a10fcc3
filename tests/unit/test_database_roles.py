"""The API's role has one name everywhere by default, and a configured one is a plain identifier."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from local.devdb.database import as_role
from local.template import PROJECT_ROOT, load_functions, load_template
from tasks_core.migrate import DEFAULT_APP_ROLE
from tasks_core.settings import Settings


def test_one_default_name_everywhere() -> None:
    assert Settings.from_env({"DATABASE_URL": "postgresql://db"}).database.app_role == DEFAULT_APP_ROLE
    assert load_template()["Parameters"]["DatabaseUser"]["Default"] == DEFAULT_APP_ROLE
    database_stack = load_template(PROJECT_ROOT / "infra" / "database.yaml")
    assert database_stack["Parameters"]["DatabaseUser"]["Default"] == DEFAULT_APP_ROLE


def test_the_migrations_function_is_told_the_role_to_create() -> None:
    functions = load_functions(parameters={"DatabaseUser": "tasks_api"})
    environment = functions["MigrateFunction"].environment
    assert Settings.from_env({**environment, "DATABASE_URL": "postgresql://db"}).database.app_role == "tasks_api"


@pytest.mark.parametrize("name", ["Tasks", "tasks-app", "1tasks", "tasks app", "x" * 64, "tasks;drop"])
def test_a_configured_name_must_be_a_plain_identifier(name: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({"DATABASE_URL": "postgresql://db", "DB_APP_ROLE": name})


def test_the_api_role_url_keeps_the_server_and_drops_the_owners_password() -> None:
    url = as_role("postgresql://owner:s3cret@db.example.com:6432/tasks?sslmode=require", "tasks_app")
    assert "s3cret" not in url
    assert "user=tasks_app" in url.split()
    assert {"host=db.example.com", "port=6432", "dbname=tasks", "sslmode=require"} <= set(url.split())
