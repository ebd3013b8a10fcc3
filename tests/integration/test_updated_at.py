"""updated_at moves forward on every update, by at least a microsecond, in the order the updates
are applied: also when two land in one transaction (now() is the transaction's start, the same
for both), and when the later one started first (its now() is older than the row's value)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import pairwise

from tasks_core import repository
from tasks_core.db import Database
from tasks_core.models import Task, TaskUpdate
from tests.integration.conftest import make_database
from tests.support.tasks import as_task, create

MICROSECOND = timedelta(microseconds=1)


def title(value: str) -> TaskUpdate:
    return TaskUpdate.model_validate({"title": value})


def updated(db: Database, user_id: str, task_id: int, value: str) -> Task:
    return as_task(repository.update_task(db, user_id, task_id, title(value)))


def current(db: Database, user_id: str, task_id: int) -> Task:
    return as_task(repository.get_task(db, user_id, task_id))


def test_two_updates_in_one_transaction_are_a_microsecond_apart_at_least(db: Database, user_id: str) -> None:
    task = create(db, user_id, "start")
    conn, _ = db.connection()
    conn.execute("BEGIN")  # both updates see the same now()
    first = updated(db, user_id, task.id, "first")
    second = updated(db, user_id, task.id, "second")
    conn.execute("COMMIT")
    assert first.updated_at >= task.updated_at + MICROSECOND
    assert second.updated_at >= first.updated_at + MICROSECOND
    assert current(db, user_id, task.id) == second


def test_an_update_that_started_first_but_applied_last_still_moves_forward(database_url: str, user_id: str) -> None:
    early, late = make_database(database_url), make_database(database_url)
    task = create(late, user_id, "start")
    conn, _ = early.connection()
    conn.execute("BEGIN")  # early's now() is fixed here
    time.sleep(0.01)
    meanwhile = updated(late, user_id, task.id, "meanwhile")  # applied first, with a later now()
    last = updated(early, user_id, task.id, "last")
    conn.execute("COMMIT")
    assert last.updated_at >= meanwhile.updated_at + MICROSECOND
    assert current(late, user_id, task.id) == last
    early.close()
    late.close()


def test_concurrent_updates_get_distinct_times_in_the_order_applied(database_url: str, user_id: str) -> None:
    setup = make_database(database_url)
    task = create(setup, user_id, "start")
    writers = [make_database(database_url) for _ in range(10)]
    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        results = list(pool.map(lambda index: updated(writers[index], user_id, task.id, f"v{index}"), range(10)))
    final = current(setup, user_id, task.id)
    for database in [setup, *writers]:
        database.close()
    times = sorted(result.updated_at for result in results)
    assert all(later - earlier >= MICROSECOND for earlier, later in pairwise(times))
    assert times[0] > task.updated_at
    # The row holds the last update applied, which has the latest time.
    assert final == max(results, key=lambda result: result.updated_at)
