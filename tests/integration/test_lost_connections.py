"""A connection that dies during a statement: an idempotent statement is run again once on a new
connection and succeeds; an insert is not (it may have committed): 503, and the task exists at
most once. These fail if the retry is removed, or if inserts are retried too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from local.devdb.pgwire import Relay, statement_of
from tasks_core import repository, sql
from tasks_core.db import Database
from tasks_core.errors import DatabaseUnavailable, TaskNotFound
from tasks_core.models import TaskCreate, TaskUpdate
from tasks_core.repository import IdempotencyKey
from tests.integration.conftest import make_database
from tests.support.tasks import as_task, create, list_tasks


@pytest.fixture
def relay(database_url: str) -> Iterator[Relay]:
    with Relay(database_url) as relay:
        yield relay


@pytest.fixture
def relayed(relay: Relay) -> Iterator[Database]:
    """A Database whose connections go through the relay, already connected (a warm function)."""
    db = make_database(relay.conninfo)
    repository.ping(db)
    yield db
    db.close()


def count_tasks(database_url: str, user_id: str) -> int:
    """The user's tasks, counted on a connection of its own."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM tasks WHERE user_id = %s", (user_id,)).fetchone()
    assert row is not None
    return int(row[0])


def direct(database_url: str, server_url: str) -> str:
    """The session's database on the server itself, not through a pooler (to see its backends)."""
    return make_conninfo(server_url, dbname=conninfo_to_dict(database_url)["dbname"])


# The reply is lost after the statement ran: a read, an update and a delete are run again.


def test_read_whose_reply_is_lost_is_retried(database_url: str, relay: Relay, relayed: Database, user_id: str) -> None:
    task = create(make_database(database_url), user_id, "kept")
    lost = relay.lose_reply(statement_of(sql.GET_TASK))
    assert as_task(repository.get_task(relayed, user_id, task.id)) == task
    assert lost.fired == 1
    assert relay.connections == 2  # the retry ran on a new connection


def test_list_whose_reply_is_lost_is_retried(database_url: str, relay: Relay, relayed: Database, user_id: str) -> None:
    task = create(make_database(database_url), user_id, "listed")
    lost = relay.lose_reply(statement_of(sql.LIST_TASKS_JSON))
    assert list_tasks(relayed, user_id, limit=10).tasks == [task]
    assert lost.fired == 1


def test_update_whose_reply_is_lost_is_retried(
    database_url: str, relay: Relay, relayed: Database, user_id: str
) -> None:
    task = create(make_database(database_url), user_id, "before")
    lost = relay.lose_reply(statement_of(sql.UPDATE_TASK))
    updated = as_task(repository.update_task(relayed, user_id, task.id, TaskUpdate(title="after")))
    assert updated.title == "after"
    # It ran twice: the second run moved updated_at again, past the first (lost) one.
    assert updated.updated_at > task.updated_at
    assert lost.fired == 1


def test_delete_cut_before_it_ran_is_retried(database_url: str, relay: Relay, relayed: Database, user_id: str) -> None:
    task = create(make_database(database_url), user_id, "doomed")
    cut = relay.cut(statement_of(sql.DELETE_TASK))
    repository.delete_task(relayed, user_id, task.id)
    assert cut.fired == 1
    assert count_tasks(database_url, user_id) == 0
    with pytest.raises(TaskNotFound):
        repository.get_task(relayed, user_id, task.id)


# A guarded write (If-Match) is not run again either: if the first run committed, the second
# would find its own change, a stale tag, and tell the client 412 for it.


def test_guarded_update_whose_reply_is_lost_is_503(
    database_url: str, relay: Relay, relayed: Database, user_id: str
) -> None:
    record = repository.create_task(make_database(database_url), user_id, TaskCreate(title="guarded")).task
    lost = relay.lose_reply(statement_of(sql.UPDATE_TASK))
    with pytest.raises(DatabaseUnavailable):
        repository.update_task(relayed, user_id, record.id, TaskUpdate(title="changed"), if_match=[record.etag])
    assert lost.fired == 1
    assert as_task(repository.get_task(relayed, user_id, record.id)).title == "changed"  # it did commit


# An insert is never run again: after a lost reply it may have committed.


def test_create_whose_reply_is_lost_is_503_and_the_task_exists_once(
    database_url: str, relay: Relay, relayed: Database, user_id: str
) -> None:
    lost = relay.lose_reply(statement_of(sql.CREATE_TASK))
    with pytest.raises(DatabaseUnavailable):
        repository.create_task(relayed, user_id, TaskCreate(title="committed, never acknowledged"))
    assert lost.fired == 1
    assert count_tasks(database_url, user_id) == 1
    # The next request is served on a new connection.
    assert list_tasks(relayed, user_id, limit=10).tasks[0].title == "committed, never acknowledged"


def test_keyed_create_whose_reply_is_lost_is_retried_and_exists_once(
    database_url: str, relay: Relay, relayed: Database, user_id: str
) -> None:
    # With an Idempotency-Key the insert is safe to run again: the second run finds the key the
    # first one stored, and answers with that task.
    lost = relay.lose_reply(statement_of(sql.CREATE_TASK_WITH_KEY))
    key = IdempotencyKey("retry-me", "fingerprint", ttl_s=3600)
    created = repository.create_task(relayed, user_id, TaskCreate(title="once"), key)
    assert lost.fired == 1
    assert relay.connections == 2
    assert created.replayed is True  # the answer the first run stored
    assert [task.id for task in list_tasks(relayed, user_id, limit=10).tasks] == [created.task.id]


def test_create_cut_before_it_ran_is_503_and_no_task_exists(
    database_url: str, relay: Relay, relayed: Database, user_id: str
) -> None:
    cut = relay.cut(statement_of(sql.CREATE_TASK))
    with pytest.raises(DatabaseUnavailable):
        repository.create_task(relayed, user_id, TaskCreate(title="never ran"))
    assert cut.fired == 1
    assert count_tasks(database_url, user_id) == 0


# The server kills the backend in the middle of the statement (blocked on a lock the test holds).


def terminate_when_waiting(admin: psycopg.Connection[Any], statement: str) -> None:
    """Terminate the backend waiting on a lock to run `statement` (as soon as it waits)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            " AND pid <> pg_backend_pid() AND position(%s in query) > 0",
            (statement,),
        ).fetchone()
        if row is not None:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (row[0],)).fetchone() == (True,)
            return
        time.sleep(0.02)
    raise AssertionError(f"no backend waited to run {statement!r}")


def test_update_whose_backend_is_killed_mid_statement_is_retried(
    database_url: str, server_url: str, db: Database, user_id: str
) -> None:
    task = create(db, user_id, "locked")
    repository.ping(db)  # warm: the statement runs on a kept connection
    with (
        psycopg.connect(database_url) as holder,
        psycopg.connect(direct(database_url, server_url), autocommit=True) as admin,
    ):
        holder.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task.id,))
        with ThreadPoolExecutor(1) as pool:
            update = pool.submit(repository.update_task, db, user_id, task.id, TaskUpdate(title="won"))
            terminate_when_waiting(admin, "UPDATE tasks")
            holder.commit()  # releases the lock: the retry goes through
            result = as_task(update.result(timeout=30))
    assert result.title == "won"


def test_create_whose_backend_is_killed_mid_statement_is_503_and_not_retried(
    database_url: str, server_url: str, db: Database, user_id: str
) -> None:
    repository.ping(db)
    with (
        psycopg.connect(database_url) as holder,
        psycopg.connect(direct(database_url, server_url), autocommit=True) as admin,
    ):
        holder.execute("LOCK TABLE tasks IN SHARE MODE")  # inserts wait
        with ThreadPoolExecutor(1) as pool:
            killed = pool.submit(repository.create_task, db, user_id, TaskCreate(title="killed"))
            terminate_when_waiting(admin, "INSERT INTO tasks")
            holder.commit()  # released: a retry would go through, and must not happen
            with pytest.raises(DatabaseUnavailable):
                killed.result(timeout=30)
    assert count_tasks(database_url, user_id) == 0
    # The environment goes on with a new connection.
    assert create(db, user_id, "next").title == "next"


def test_read_on_a_connection_that_was_killed_while_idle_is_served(
    database_url: str, relay: Relay, relayed: Database, user_id: str
) -> None:
    # The idle connection is closed under it (proxy timeout, failover): the poll sees it.
    relay.cut_all()
    time.sleep(0.05)
    assert list_tasks(relayed, user_id, limit=1).tasks == []
    assert relay.connections == 2
