"""Test session: a real PostgreSQL (embedded, or the server DATABASE_URL names) with a scratch
database per session, migrated; the functions of template.yaml pointed at it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.database import EmbeddedPostgres, scratch_database
from local.template import Function, load_functions
from tasks_core.migrate import migrate
from tests.support.api import InProcessApi


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server: DATABASE_URL's if set, else an embedded one removed afterwards."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    # Not under pytest's temporary folder: every pytest session of the same user resets that
    # folder to mode 0700, which locks the postgres user out of a server another session runs.
    with tempfile.TemporaryDirectory(prefix="tasks-pgdata-") as folder:
        server = EmbeddedPostgres(Path(folder), delete_on_stop=True)
        url = server.start()
        try:
            yield url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A migrated scratch database, dropped at the end of the session."""
    with scratch_database(server_url) as url:
        migrate(url)
        yield url


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
