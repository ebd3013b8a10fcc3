"""Settings come from the environment once and are validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasks_core.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://db/tasks"})
    assert settings.database.auth == "url"
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value() == "postgresql://db/tasks"
    assert settings.auth.enabled is False
    assert settings.database.connect_timeout_s == 3
    assert settings.retry_after_s == 5


def test_overrides() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://db/tasks",
            "DB_CONNECT_TIMEOUT": "2",
            "DB_APPLICATION_NAME": "tasks-test",
            "CURSOR_SECRET": "s3cret",
            "RETRY_AFTER_SECONDS": "9",
        }
    )
    assert settings.database.connect_timeout_s == 2
    assert settings.database.application_name == "tasks-test"
    assert settings.cursor_secret.get_secret_value() == "s3cret"
    assert settings.retry_after_s == 9


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u:hunter2@db/tasks", "CURSOR_SECRET": "k3y"})
    assert "hunter2" not in repr(settings)
    assert "k3y" not in repr(settings)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"DATABASE_URL": ""},
        {"DATABASE_URL": "postgresql://db", "DB_CONNECT_TIMEOUT": "1"},
        {"DATABASE_URL": "postgresql://db", "DB_CONNECT_TIMEOUT": "soon"},
        {"DATABASE_URL": "postgresql://db", "RETRY_AFTER_SECONDS": "0"},
    ],
)
def test_invalid_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env(env)
