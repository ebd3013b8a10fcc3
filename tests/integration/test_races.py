"""Retries and concurrent edits on a real PostgreSQL: duplicates racing on one Idempotency-Key
create one task, writers racing on one ETag change it once, and expired keys are purged."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg
import pytest

from tasks_core import idempotency, repository
from tasks_core.db import Database
from tasks_core.errors import PreconditionFailed, TaskNotFound
from tasks_core.models import TaskCreate, TaskUpdate
from tests.integration.conftest import make_database
from tests.support.tasks import as_task, create, list_tasks

Result = TypeVar("Result")


@pytest.fixture
def environments(database_url: str) -> Iterator[list[Database]]:
    """Twenty execution environments, each with its own connection, opened beforehand."""
    databases = [make_database(database_url) for _ in range(20)]
    for database in databases:
        repository.ping(database)
    yield databases
    for database in databases:
        database.close()


def at_once(databases: list[Database], work: Callable[[Database], Result]) -> list[Result | Exception]:
    """Run `work` in every environment, released together; results or exceptions, in order."""
    barrier = threading.Barrier(len(databases))

    def run(database: Database) -> Result | Exception:
        barrier.wait()
        try:
            return work(database)
        except Exception as exc:  # noqa: BLE001  # the caller counts outcomes of each kind
            return exc

    with ThreadPoolExecutor(max_workers=len(databases)) as pool:
        return list(pool.map(run, databases))


def test_twenty_duplicates_at_once_create_one_task(environments: list[Database], user_id: str) -> None:
    task = TaskCreate(title="exactly once")
    key = idempotency.idempotency_key("retry-storm", task, ttl_s=3600)
    results = at_once(environments, lambda db: repository.create_task(db, user_id, task, key))
    answers = [result for result in results if isinstance(result, repository.CreatedTask)]
    assert len(answers) == 20, [result for result in results if isinstance(result, Exception)]
    assert sorted(answer.replayed for answer in answers) == [False] + [True] * 19
    assert {answer.task for answer in answers} == {answers[0].task}  # same id, ETag and bytes
    assert [task.id for task in list_tasks(environments[0], user_id, limit=100).tasks] == [answers[0].task.id]


def test_ten_guarded_writers_with_one_tag_one_wins(environments: list[Database], user_id: str) -> None:
    created = repository.create_task(environments[0], user_id, TaskCreate(title="v1")).task
    writers = environments[:10]

    def write(db: Database) -> repository.TaskRecord:
        change = TaskUpdate(title=f"by {writers.index(db)}")
        return repository.update_task(db, user_id, created.id, change, if_match=[created.etag])

    results = at_once(writers, write)
    won = [result for result in results if isinstance(result, repository.TaskRecord)]
    lost = [result for result in results if isinstance(result, PreconditionFailed)]
    assert (len(won), len(lost)) == (1, 9), results
    final = repository.get_task(environments[0], user_id, created.id)
    assert final == won[0]  # the winner's write is the one kept


def test_ten_guarded_deletes_with_one_tag_one_wins(environments: list[Database], user_id: str) -> None:
    created = repository.create_task(environments[0], user_id, TaskCreate(title="v1")).task
    results = at_once(
        environments[:10], lambda db: repository.delete_task(db, user_id, created.id, if_match=[created.etag])
    )
    assert results.count(None) == 1
    assert all(isinstance(result, (PreconditionFailed, TaskNotFound)) for result in results if result)


def test_updated_at_moves_forward_under_concurrent_unguarded_updates(
    environments: list[Database], user_id: str
) -> None:
    task = create(environments[0], user_id)
    results = at_once(environments, lambda db: repository.update_task(db, user_id, task.id, TaskUpdate(completed=True)))
    stamps = sorted(as_task(result).updated_at for result in results if isinstance(result, repository.TaskRecord))
    assert len(stamps) == 20
    assert len(set(stamps)) == 20  # each update its own instant, even within one clock tick
    assert stamps[0] > task.updated_at


def test_purge_deletes_expired_keys_only(db: Database, database_url: str, user_id: str) -> None:
    for index in range(7):
        task = TaskCreate(title=f"t{index}")
        repository.create_task(db, user_id, task, idempotency.idempotency_key(f"k{index}", task, ttl_s=3600))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
            " WHERE user_id = %s AND key IN ('k0', 'k1', 'k2', 'k3', 'k4')",
            (user_id,),
        )
    calls = 0

    def plenty_of_time() -> int:
        nonlocal calls
        calls += 1
        return 60_000

    # Other tests' expired keys may be purged too; ours are counted from the table.
    assert idempotency.purge_expired_keys(db, plenty_of_time, batch=2) >= 5
    assert calls >= 3  # batches of 2: at least three rounds for five keys
    with psycopg.connect(database_url) as conn:
        left = [
            row[0]
            for row in conn.execute("SELECT key FROM idempotency_keys WHERE user_id = %s ORDER BY key", (user_id,))
        ]
    assert left == ["k5", "k6"]


def test_purge_stops_when_its_time_runs_short(db: Database, database_url: str, user_id: str) -> None:
    task = TaskCreate(title="t")
    repository.create_task(db, user_id, task, idempotency.idempotency_key("k", task, ttl_s=3600))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE user_id = %s", (user_id,)
        )
    assert idempotency.purge_expired_keys(db, lambda: 5_000) == 0  # under the reserve: not one batch
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM idempotency_keys WHERE user_id = %s", (user_id,)).fetchone() == (1,)
