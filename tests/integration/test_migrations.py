"""Migrations apply each file once, in order, also with two runners at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from local.database import scratch_database
from tasks_core.migrate import available_migrations, migrate


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
