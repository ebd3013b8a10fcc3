"""Test session: a real PostgreSQL (embedded, or the server DATABASE_URL names) with a scratch
database per session, migrated as its owner; the functions of template.yaml pointed at it as the
API's role (tasks_app), as in AWS.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from local.devdb.database import DatabaseUrls, migrated, scratch_database
from local.template import Function, load_functions
from tests.support.api import InProcessApi
from tests.support.pgbouncer import pgbouncer, through
from tests.support.postgres import embedded_postgres


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server: DATABASE_URL's if set, else an embedded one removed afterwards."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    with embedded_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def pooled(server_url: str) -> Iterator[Callable[[str], str]]:
    """How the API reaches a database of the server: directly, or through PgBouncer in
    transaction mode when TASKS_TEST_POOLER=pgbouncer (`make test` runs both)."""
    if os.environ.get("TASKS_TEST_POOLER") != "pgbouncer":
        yield lambda url: url
        return
    with pgbouncer(server_url) as port:
        yield lambda url: through(url, port)


@pytest.fixture(scope="session")
def database_urls(server_url: str) -> Iterator[DatabaseUrls]:
    """A scratch database, migrated as its owner, dropped at the end of the session; its URLs
    for the API's role and for the owner, both direct."""
    with scratch_database(server_url) as url:
        # Directly: role defaults (0002, 0003) apply to sessions opened after them, and a pooler
        # keeps the server connections it already has (RDS Proxy too: see the README).
        yield migrated(url)


@pytest.fixture(scope="session")
def database_url(database_urls: DatabaseUrls, pooled: Callable[[str], str]) -> str:
    """The session's database as the API reaches it: as the API's role, maybe through PgBouncer."""
    return pooled(database_urls.app)


@pytest.fixture(scope="session")
def functions(database_url: str, database_urls: DatabaseUrls) -> Iterator[dict[str, Function]]:
    """The template's functions, with their environment set as Lambda would set it."""
    functions = load_functions(parameters={"DatabaseUrl": database_url, "MigrationDatabaseUrl": database_urls.owner})
    # One process for every API function, so one environment: theirs, not the migrations
    # function's (which names the owner).
    environment = {name: value for fn in functions.values() if fn.routes for name, value in fn.environment.items()}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        yield functions


@pytest.fixture(scope="session")
def api(functions: dict[str, Function]) -> InProcessApi:
    """The API, its functions invoked in this process."""
    return InProcessApi(functions)


@pytest.fixture
def user_id() -> str:
    """A user of its own for each test, so tests share one database without seeing each other."""
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_user_id() -> str:
    """A second user."""
    return f"other-{uuid.uuid4().hex[:12]}"
