"""Test session: a real PostgreSQL (embedded, or the server DATABASE_URL names) with a scratch
database per session, migrated; the functions of template.yaml pointed at it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from local.database import scratch_database
from local.template import Function, load_functions
from tasks_core.migrate import migrate
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
def database_url(server_url: str, pooled: Callable[[str], str]) -> Iterator[str]:
    """A migrated scratch database, dropped at the end of the session, as the API reaches it."""
    with scratch_database(server_url) as url:
        # Directly: role defaults (0002) apply to sessions opened after it, and a pooler keeps
        # the server connections it already has (RDS Proxy too: see the README).
        migrate(url)
        yield pooled(url)


@pytest.fixture(scope="session")
def functions(database_url: str) -> Iterator[dict[str, Function]]:
    """The template's functions, with their environment set as Lambda would set it."""
    functions = load_functions(parameters={"DatabaseUrl": database_url})
    environment = {name: value for fn in functions.values() for name, value in fn.environment.items()}
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
