"""The client-side deadline: a database that does not answer (every PostgreSQL process stopped,
as a partition or a stuck failover leaves it) is a 503 before the invocation's time runs out,
not a 500 at Lambda's timeout; and the same execution environment recovers when it is back."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import tuple_row
from pydantic import SecretStr

from local.devdb.database import EmbeddedPostgres, migrated
from local.devdb.pgwire import Relay
from local.template import Function
from tasks_core import repository
from tasks_core.db import Database, InvocationTimeLimit
from tasks_core.errors import DatabaseUnavailable
from tasks_core.settings import DatabaseSettings, Settings
from tests.support.contract import assert_error
from tests.support.lambda_runtime import TimedApi, functions_use_database
from tests.support.processes import frozen
from tests.support.tasks import as_task, create


@pytest.fixture
def own_server() -> Iterator[tuple[EmbeddedPostgres, str]]:
    """A migrated PostgreSQL server of the test's own, which it may freeze, and its URL."""
    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="tasks-pg-frozen-")) / "data", delete_on_stop=True)
    try:
        yield server, migrated(server.start()).app  # the functions connect as the API's role
    finally:
        server.stop()
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)


def database(url: str, **settings: int) -> Database:
    """A Database of its own on `url`, with the given deadline settings."""
    return Database(DatabaseSettings(url=SecretStr(url), **settings), retry_after_s=5)


def test_frozen_database_is_503_before_the_invocation_ends_then_recovers(
    own_server: tuple[EmbeddedPostgres, str], functions: dict[str, Function], user_id: str
) -> None:
    server, url = own_server
    assert server.pid is not None
    with functions_use_database(url):
        api = TimedApi(functions, timeout_s=4)  # a few seconds left, as late in an invocation
        created = api.post(f"/users/{user_id}/tasks", {"title": "before the freeze"})
        assert created.status == 201
        path = f"/users/{user_id}/tasks/{created.json()['id']}"

        with frozen(server.pid, at_most_s=30) as stopped:
            assert len(stopped) > 3  # the postmaster, its helpers and the function's backend
            # First on the kept connection (the statement waits), then on a new one (the connect waits).
            for attempt in ("kept connection", "new connection"):
                started = time.monotonic()
                response = api.get(path)
                elapsed = time.monotonic() - started
                assert_error(response, 503, "database_unavailable")
                assert response.header("retry-after") == "5"
                # Answered with time to spare: the 1 s margin, less slack for a busy machine.
                assert api.remaining_ms() >= 250, (attempt, elapsed)
                # It did wait for the server meanwhile (no instant give-up).
                assert elapsed >= 1.5, (attempt, elapsed)

        # Continued: the same environment (no restart) answers again.
        again = api.get(path)
        assert again.status == 200, again.body
        assert again.json() == created.json()


def test_a_statement_past_its_deadline_is_503_and_its_connection_is_dropped(database_url: str) -> None:
    db = database(database_url)
    conn, _ = db.connection()
    before = conn.info.backend_pid
    started = time.monotonic()
    # 3 s left, less the 1 s margin: a 2 s deadline, well before the role's 5 s statement_timeout.
    with InvocationTimeLimit(3000), pytest.raises(DatabaseUnavailable) as caught:
        db.fetch("SELECT pg_sleep(4)", {}, tuple_row, idempotent=True)
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 3.5, elapsed  # the deadline, not the statement nor the server's timeout
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    # The connection was in the middle of its statement: it is not reused.
    assert conn.closed
    after, fresh = db.connection()
    assert fresh is True
    assert after.info.backend_pid != before
    repository.ping(db)
    db.close()


def test_the_cap_bounds_a_call_outside_an_invocation(database_url: str) -> None:
    db = database(database_url, deadline_cap_ms=3000)
    repository.ping(db)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        db.fetch("SELECT pg_sleep(4.5)", {}, tuple_row, idempotent=True)
    assert 2.5 <= time.monotonic() - started < 4.4
    db.close()


def test_the_cap_bounds_a_call_early_in_a_long_invocation(database_url: str) -> None:
    db = database(database_url, deadline_cap_ms=3000)
    repository.ping(db)
    started = time.monotonic()
    with InvocationTimeLimit(60_000), pytest.raises(DatabaseUnavailable):
        db.fetch("SELECT pg_sleep(4.5)", {}, tuple_row, idempotent=True)
    assert 2.5 <= time.monotonic() - started < 4.4
    db.close()


def test_too_little_time_to_connect_is_503_without_trying(database_url: str) -> None:
    with Relay(database_url) as relay:
        db = database(relay.conninfo)
        # 2.5 s left less the 1 s margin: under the 2 s libpq waits at least for a connection.
        with InvocationTimeLimit(2500), pytest.raises(DatabaseUnavailable) as caught:
            repository.ping(db)
        assert isinstance(caught.value.__cause__, TimeoutError)
        assert relay.connections == 0
        with InvocationTimeLimit(3500):  # 2.5 s: enough to connect
            repository.ping(db)
        assert relay.connections == 1
        db.close()


def test_a_healthy_database_is_unaffected_by_the_deadline(database_url: str, user_id: str) -> None:
    db = database(database_url)
    with InvocationTimeLimit(10_000):
        task = create(db, user_id, "in time")
        assert as_task(repository.get_task(db, user_id, task.id)) == task
    with InvocationTimeLimit(1200):  # a 0.2 s deadline: enough for a statement on a kept connection
        assert as_task(repository.get_task(db, user_id, task.id)) == task
    # The deadline belonged to those calls: the connection itself keeps none.
    conn, fresh = db.connection()
    assert fresh is False
    assert conn.execute("SELECT 1 FROM pg_sleep(0.5)").fetchone() == (1,)
    db.close()


def test_deadline_settings_from_the_environment() -> None:
    defaults = Settings.from_env({"DATABASE_URL": "postgresql://u@h/d"}).database
    assert (defaults.deadline_margin_ms, defaults.deadline_cap_ms) == (1000, 8000)
    given = Settings.from_env(
        {"DATABASE_URL": "postgresql://u@h/d", "DB_DEADLINE_MARGIN_MS": "500", "DB_DEADLINE_CAP_MS": "6000"}
    ).database
    assert (given.deadline_margin_ms, given.deadline_cap_ms) == (500, 6000)
    with pytest.raises(ValueError, match="deadline_cap_ms"):
        Settings.from_env({"DATABASE_URL": "postgresql://u@h/d", "DB_DEADLINE_CAP_MS": "1500"})
