"""Migrations apply each file once, in order, also with two runners at once on one database,
and with many at once on many databases of one server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
import pytest

from local.devdb.database import as_role, scratch_database
from tasks_core.migrate import (
    DEFAULT_APP_ROLE,
    LONGEST_PAUSE_S,
    MAX_ATTEMPTS,
    apply_migrations,
    available_migrations,
    migrate,
)


@pytest.fixture
def empty_database(server_url: str, pooled: Callable[[str], str]) -> Iterator[str]:
    with scratch_database(server_url, prefix="tasks_migrate") as url:
        yield pooled(url)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_files_are_versioned_and_ordered() -> None:
    versions = [migration.version for migration in available_migrations()]
    assert versions == sorted(versions)
    assert versions[0] == "0001_initial"
    assert all(version[:4].isdigit() for version in versions)


def test_applied_once(empty_database: str) -> None:
    everything = [migration.version for migration in available_migrations()]
    assert migrate(empty_database) == everything
    assert migrate(empty_database) == []
    assert tables(empty_database) == {"users", "tasks", "idempotency_keys", "schema_migrations"}
    with psycopg.connect(empty_database) as conn:
        recorded = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert recorded == everything


def test_two_runners_at_once(empty_database: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            results.append(migrate(empty_database))
        except Exception as exc:  # noqa: BLE001  # collected, then asserted to be none
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = [migration.version for migration in available_migrations()]
    assert sorted(results, key=len) == [[], everything]


def test_the_lock_is_transaction_scoped(empty_database: str) -> None:
    migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        locks = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
    assert locks == (0,)


def test_a_failing_migration_leaves_nothing_behind(empty_database: str) -> None:
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int)")  # makes 0001 fail part-way
    with pytest.raises(psycopg.errors.DuplicateTable):
        migrate(empty_database)
    assert tables(empty_database) == {"users"}  # no tasks table, no schema_migrations row


# --- runners on several databases of one server: roles are cluster-wide, advisory locks are not


def _migrate_all_at_once(urls: list[str]) -> list[list[str] | BaseException]:
    """Run one runner per database, all released together; each one's result or error."""
    results: list[list[str] | BaseException] = [[] for _ in urls]
    barrier = threading.Barrier(len(urls))

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = migrate(urls[index])
        except Exception as exc:  # noqa: BLE001  # collected, then asserted to be none
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("round_number", range(3))
def test_runners_on_many_new_databases_of_one_server_at_once(server_url: str, round_number: int) -> None:
    # Every runner changes the same cluster-wide rows (0002 the owner's role settings, 0003 the
    # API's role); without the retry 2 in 15 runs of two runners failed, and most rounds here.
    everything = [migration.version for migration in available_migrations()]
    with ExitStack() as stack:
        urls = [stack.enter_context(scratch_database(server_url, prefix="tasks_race")) for _ in range(5)]
        assert _migrate_all_at_once(urls) == [everything] * len(urls)
        for url in urls:
            assert tables(url) == {"users", "tasks", "idempotency_keys", "schema_migrations"}
            with psycopg.connect(as_role(url, DEFAULT_APP_ROLE)) as conn:  # the API's role works there
                assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
                assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (0,)


@contextmanager
def owner_settings_row_held(server_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An open transaction elsewhere on the server that has updated the owner's role settings,
    as another runner in the middle of migration 0002 on another database has."""
    with psycopg.connect(server_url, autocommit=True) as setup:
        setup.execute("ALTER ROLE CURRENT_USER SET statement_timeout = '5s'")  # the row exists
    with psycopg.connect(server_url) as conn:  # not autocommit: the transaction stays open
        conn.execute("ALTER ROLE CURRENT_USER SET statement_timeout = '5s'")
        yield conn


def _wait_until_blocked(observer: psycopg.Connection[Any], pid: int) -> None:
    """Wait until backend `pid` waits for a lock (bounded: proves it waits, measures nothing)."""
    deadline = time.monotonic() + 60
    query = "SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted"
    while observer.execute(query, (pid,)).fetchone() != (1,):
        assert time.monotonic() < deadline, "the runner never waited for the other transaction"
        time.sleep(0.02)


@pytest.mark.parametrize("max_attempts", [1, MAX_ATTEMPTS])
def test_a_runner_that_collides_on_a_role_retries(server_url: str, max_attempts: int) -> None:
    pauses: list[float] = []
    outcome: list[list[str] | BaseException] = []
    with (
        scratch_database(server_url, prefix="tasks_collide") as url,
        psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn,
        psycopg.connect(server_url, autocommit=True) as observer,
        owner_settings_row_held(server_url) as other_runner,
    ):

        def run() -> None:
            try:
                outcome.append(apply_migrations(conn, max_attempts=max_attempts, sleep=pauses.append))
            except psycopg.Error as exc:
                outcome.append(exc)

        runner = threading.Thread(target=run)
        runner.start()
        _wait_until_blocked(observer, conn.info.backend_pid)
        other_runner.commit()  # the other runner finishes first
        runner.join()
        if max_attempts == 1:  # as before the retry: a failed deploy, or a failed test session
            [error] = outcome
            assert isinstance(error, psycopg.errors.InternalError_)
            assert error.sqlstate == "XX000"
            assert "tuple concurrently updated" in str(error)
            assert tables(url) == set()  # and nothing half-applied
        else:
            assert outcome == [[migration.version for migration in available_migrations()]]
            assert len(pauses) == 1
            assert 0 <= pauses[0] <= LONGEST_PAUSE_S


def test_other_failures_are_not_retried(empty_database: str) -> None:
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE tasks (id int)")  # 0001 cannot create it
        pauses: list[float] = []
        with pytest.raises(psycopg.errors.DuplicateTable):
            apply_migrations(conn, sleep=pauses.append)
    assert pauses == []
