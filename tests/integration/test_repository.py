"""The repository on a real PostgreSQL: one statement per operation, scoped by user, safe
under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tasks_core import repository
from tasks_core.db import Database
from tasks_core.errors import TaskNotFound
from tasks_core.models import TaskUpdate
from tests.integration.conftest import make_database
from tests.support.tasks import as_task, create, list_tasks


def test_create_get_update_delete(db: Database, user_id: str) -> None:
    task = create(db, user_id, "first", description="d")
    assert task.user_id == user_id
    assert task.created_at == task.updated_at
    assert as_task(repository.get_task(db, user_id, task.id)) == task
    updated = as_task(repository.update_task(db, user_id, task.id, TaskUpdate.model_validate({"completed": True})))
    assert updated.completed is True
    assert updated.title == "first"
    assert updated.updated_at > task.updated_at
    repository.delete_task(db, user_id, task.id)
    with pytest.raises(TaskNotFound):
        repository.get_task(db, user_id, task.id)
    with pytest.raises(TaskNotFound):
        repository.delete_task(db, user_id, task.id)


def test_a_first_task_creates_its_user(db: Database, database_url: str, user_id: str) -> None:
    create(db, user_id)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT created_at = updated_at FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row == (True,)


def test_users_do_not_see_each_other(db: Database, user_id: str, other_user_id: str) -> None:
    mine = create(db, user_id, "mine")
    theirs = create(db, other_user_id, "theirs")
    with pytest.raises(TaskNotFound):
        repository.get_task(db, user_id, theirs.id)
    with pytest.raises(TaskNotFound):
        repository.update_task(db, user_id, theirs.id, TaskUpdate.model_validate({"title": "x"}))
    with pytest.raises(TaskNotFound):
        repository.delete_task(db, user_id, theirs.id)
    assert list_tasks(db, user_id, limit=10).tasks == [mine]
    assert as_task(repository.get_task(db, other_user_id, theirs.id)) == theirs


def test_100_concurrent_creates_give_100_distinct_tasks(database_url: str, user_id: str) -> None:
    # Each worker is its own execution environment with its own connection; the user row is
    # created by whichever first task commits first.
    databases = [make_database(database_url) for _ in range(100)]

    def create_one(index: int) -> int:
        return create(databases[index], user_id, f"task {index}").id

    try:
        with ThreadPoolExecutor(max_workers=100) as pool:
            ids = list(pool.map(create_one, range(100)))
    finally:
        for database in databases:
            database.close()
    assert len(set(ids)) == 100
    db = make_database(database_url)
    page = list_tasks(db, user_id, limit=200)
    db.close()
    assert sorted(ids) == [task.id for task in page.tasks]
    assert {task.title for task in page.tasks} == {f"task {index}" for index in range(100)}


def test_list_pages_by_keyset(db: Database, user_id: str) -> None:
    tasks = [create(db, user_id, f"t{i}", completed=i % 2 == 0) for i in range(5)]
    first = list_tasks(db, user_id, limit=2)
    assert first.tasks == tasks[:2]
    assert first.last_id == tasks[1].id
    second = list_tasks(db, user_id, limit=2, after_id=first.last_id or 0)
    assert second.tasks == tasks[2:4]
    last = list_tasks(db, user_id, limit=2, after_id=second.last_id or 0)
    assert last.tasks == tasks[4:]
    assert last.last_id is None
    done = list_tasks(db, user_id, limit=10, completed=True)
    assert [task.id for task in done.tasks] == [tasks[0].id, tasks[2].id, tasks[4].id]


def test_update_statement_changes_only_flagged_fields(db: Database, user_id: str) -> None:
    task = create(db, user_id, "keep", description="old")
    cleared = as_task(repository.update_task(db, user_id, task.id, TaskUpdate.model_validate({"description": None})))
    assert (cleared.title, cleared.description, cleared.completed) == ("keep", None, False)


def test_concurrent_updates_keep_updated_at_increasing(database_url: str, user_id: str) -> None:
    setup = make_database(database_url)
    task = create(setup, user_id)
    databases = [make_database(database_url) for _ in range(10)]

    def touch(index: int) -> None:
        repository.update_task(databases[index], user_id, task.id, TaskUpdate.model_validate({"title": f"v{index}"}))

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(touch, range(10)))
    final = as_task(repository.get_task(setup, user_id, task.id))
    for database in [setup, *databases]:
        database.close()
    assert final.updated_at > task.updated_at


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        ("INSERT INTO tasks (user_id, title) VALUES (%(user)s, '')", "tasks_title_length"),
        ("INSERT INTO tasks (user_id, title) VALUES (%(user)s, repeat('x', 501))", "tasks_title_length"),
        ("INSERT INTO tasks (user_id, title) VALUES (%(user)s, ' padded')", "tasks_title_stripped"),
        ("INSERT INTO tasks (user_id, title) VALUES (%(user)s, U&'x\\3000')", "tasks_title_stripped"),
        (
            "INSERT INTO tasks (user_id, title, description) VALUES (%(user)s, 'x', repeat('d', 5001))",
            "tasks_description_length",
        ),
        (
            "INSERT INTO tasks (user_id, title, created_at, updated_at)"
            " VALUES (%(user)s, 'x', now(), now() - '1s'::interval)",
            "tasks_updated_after_created",
        ),
        ("INSERT INTO users (id) VALUES ('has space')", "users_id_format"),
        ("INSERT INTO users (id) VALUES (repeat('u', 129))", "users_id_format"),
    ],
)
def test_database_refuses_rows_the_api_refuses(database_url: str, user_id: str, sql: str, constraint: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id) VALUES (%s)", (user_id,))
        with pytest.raises(psycopg.errors.CheckViolation) as caught:
            conn.execute(sql, {"user": user_id})
    assert caught.value.diag.constraint_name == constraint
