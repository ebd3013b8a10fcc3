"""After an Aurora failover a kept connection can land on a reader: its writes fail with SQLSTATE
25006 (read_only_sql_transaction). That connection is dropped and the statement run once more
on a new one; a new connection that is read-only too gives 503.

The reader is real PostgreSQL: the database's default_transaction_read_only is on while the
connection opens (sessions read the setting at start), and off for the next one.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from local.devdb.database import DatabaseUrls, migrated, scratch_database, with_database
from local.devdb.pgwire import Relay
from tasks_core import repository
from tasks_core.db import Database
from tasks_core.errors import DatabaseUnavailable, TaskNotFound
from tasks_core.models import TaskCreate, TaskUpdate
from tests.integration.conftest import make_database
from tests.support.tasks import as_task, create, list_tasks


@pytest.fixture
def failover(server_url: str) -> Iterator[DatabaseUrls]:
    """A migrated database of the test's own, reached directly: a pooler would keep server
    connections opened before a switch, so the test could not choose which one is read-only."""
    with scratch_database(server_url, prefix="tasks_failover") as url:
        yield migrated(url)


def read_only(owner_url: str, on: bool) -> None:
    """New sessions of the database start read-only (as on a reader), or not (as its owner)."""
    # From another database of the server: sessions of this one may be read-only already.
    with psycopg.connect(with_database(owner_url, "postgres"), autocommit=True) as conn:
        name = sql.Identifier(str(conninfo_to_dict(owner_url)["dbname"]))
        if on:
            conn.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(name))
        else:
            conn.execute(sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(name))


def on_a_reader(urls: DatabaseUrls) -> Database:
    """A warm Database whose kept connection reaches a reader; new connections reach the writer."""
    read_only(urls.owner, True)
    db = make_database(urls.app)
    conn, _ = db.connection()
    assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
    read_only(urls.owner, False)
    return db


def test_update_that_reached_a_reader_is_run_again_on_a_new_connection(failover: DatabaseUrls) -> None:
    task = create(make_database(failover.app), "u1", "before")
    db = on_a_reader(failover)
    kept = db.connection()[0].info.backend_pid
    updated = as_task(repository.update_task(db, "u1", task.id, TaskUpdate(completed=True)))
    assert updated.completed is True
    conn, fresh = db.connection()
    assert fresh is False
    assert conn.info.backend_pid != kept  # the reader's connection was dropped
    assert conn.execute("SHOW transaction_read_only").fetchone() == ("off",)
    db.close()


def test_guarded_delete_that_reached_a_reader_is_run_again_on_a_new_connection(failover: DatabaseUrls) -> None:
    # Even a guarded write: refused, it changed nothing, so its tag still matches on the writer.
    record = repository.create_task(make_database(failover.app), "u2", TaskCreate(title="doomed")).task
    db = on_a_reader(failover)
    repository.delete_task(db, "u2", record.id, if_match=[record.etag])
    with pytest.raises(TaskNotFound):
        repository.get_task(db, "u2", record.id)
    db.close()


def test_create_that_reached_a_reader_is_run_again_and_exists_once(failover: DatabaseUrls) -> None:
    # 25006 is the server refusing the statement before it runs: nothing was written, so even
    # an insert may run again (unlike after a lost connection, where it may have committed).
    db = on_a_reader(failover)
    created = create(db, "u3", "written once")
    assert list_tasks(db, "u3", limit=10).tasks == [created]
    db.close()


def test_a_reader_again_after_reconnecting_is_503_and_the_connection_is_not_kept(failover: DatabaseUrls) -> None:
    task = create(make_database(failover.app), "u4", "before")
    read_only(failover.owner, True)  # every connection reaches a reader: the failover is not over
    try:
        db = make_database(failover.app)
        repository.ping(db)  # warm, and reads still work
        with pytest.raises(DatabaseUnavailable) as caught:
            repository.update_task(db, "u4", task.id, TaskUpdate(completed=True))
        assert isinstance(caught.value.__cause__, psycopg.errors.ReadOnlySqlTransaction)
        _, fresh = db.connection()
        assert fresh is True  # the reader's connection was not kept
    finally:
        read_only(failover.owner, False)
    assert as_task(repository.update_task(db, "u4", task.id, TaskUpdate(completed=True))).completed is True
    db.close()


def test_a_new_connection_on_a_reader_is_503_without_another_try(failover: DatabaseUrls) -> None:
    task = create(make_database(failover.app), "u5", "before")
    read_only(failover.owner, True)
    try:
        with Relay(failover.app) as relay:
            db = make_database(relay.conninfo)  # cold: its first connection reaches a reader
            with pytest.raises(DatabaseUnavailable):
                repository.update_task(db, "u5", task.id, TaskUpdate(completed=True))
            assert relay.connections == 1
            assert relay.statements().count(relay.statements()[-1]) == 1
            db.close()
    finally:
        read_only(failover.owner, False)
