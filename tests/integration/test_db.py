"""The connection rules: one lazily opened connection, reused, replaced when the server closed
it, no prepared statements, and a 503 (not a hang) when the database is unreachable."""

from __future__ import annotations

import time

import psycopg
import pytest

from tasks_core import repository
from tasks_core.db import Database
from tasks_core.errors import DatabaseUnavailable
from tests.integration.conftest import make_database
from tests.support.tasks import create, list_tasks


def backend_pid(db: Database) -> int:
    """The server process serving the connection now (asked, as a pooler fakes the startup pid)."""
    conn, _ = db.connection()
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def test_connection_is_opened_on_first_use() -> None:
    db = make_database("postgresql://postgres@/postgres?host=/nonexistent-socket-dir")  # no error yet
    with pytest.raises(DatabaseUnavailable):
        repository.ping(db)


def test_connection_is_reused(database_url: str) -> None:
    db = make_database(database_url)
    repository.ping(db)
    first, fresh = db.connection()
    assert fresh is False  # opened by the ping
    for _ in range(10):
        repository.ping(db)
    again, fresh = db.connection()
    # The same client connection; behind a pooler the server backend may change, not this.
    assert again is first
    assert fresh is False
    assert again.pgconn.socket == first.pgconn.socket
    db.close()


def test_connection_settings(db: Database) -> None:
    repository.ping(db)
    conn, _ = db.connection()
    assert conn.autocommit is True
    assert conn.prepare_threshold is None
    assert conn.info.parameter_status("application_name") == "tasks-api"


def test_no_statement_is_ever_prepared(db: Database, user_id: str) -> None:
    for index in range(10):  # psycopg would prepare after 5 runs by default
        create(db, user_id, f"t{index}")
        list_tasks(db, user_id, limit=5)
    conn, _ = db.connection()
    assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)


def test_role_timeouts_apply_to_new_sessions(db: Database) -> None:
    conn, _ = db.connection()
    assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
    assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("10s",)


@pytest.mark.parametrize("operation", ["read", "create"])
def test_next_request_after_the_server_closed_the_connection_succeeds(
    database_url: str, server_url: str, user_id: str, operation: str
) -> None:
    db = make_database(database_url)
    repository.ping(db)
    victim = backend_pid(db)
    with psycopg.connect(server_url, autocommit=True) as admin:  # directly, not through a pooler
        assert admin.execute("SELECT pg_terminate_backend(%s)", (victim,)).fetchone() == (True,)
    time.sleep(0.05)  # the FATAL message reaches the socket
    if operation == "read":
        assert list_tasks(db, user_id, limit=1).tasks == []
    else:
        assert create(db, user_id, "after").title == "after"
    assert backend_pid(db) != victim
    db.close()


def test_statement_timeout_is_503_and_the_connection_survives(db: Database) -> None:
    repository.ping(db)
    before, _ = db.connection()
    # The server's key for the connection: a new connection (direct or through a pooler) has another.
    pid = before.info.backend_pid
    with pytest.raises(DatabaseUnavailable) as caught:
        db.fetch("SELECT pg_sleep(6)", {}, psycopg.rows.tuple_row, idempotent=True)
    assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)  # the role's 5 s timeout
    after, fresh = db.connection()
    assert fresh is False
    assert after is before
    assert after.info.backend_pid == pid
    repository.ping(db)
    assert db.connection() == (before, False)


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@/postgres?host=/nonexistent-socket-dir", "postgresql://postgres@127.0.0.1:9/postgres"],
)
def test_unreachable_database_is_database_unavailable(url: str) -> None:
    db = make_database(url)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as caught:
        repository.ping(db)
    assert time.monotonic() - started < 8  # not a hang: under the function timeout (10 s)
    assert caught.value.retry_after_s == 5
    assert caught.value.status == 503
