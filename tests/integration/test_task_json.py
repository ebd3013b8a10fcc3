"""PostgreSQL writes each task's JSON (sql._task_json); it must be exactly what pydantic
writes for the same task, for every string a title or description may hold."""

from __future__ import annotations

import pytest

from tasks_core import repository
from tasks_core.db import Database
from tasks_core.idempotency import fingerprint
from tasks_core.models import Task, TaskCreate, TaskUpdate
from tasks_core.repository import IdempotencyKey
from tests.support.tasks import list_tasks

TEXTS = [
    'quotes " and \\ backslashes / slashes',
    "controls \x01\x02\x08\x0b\x0c\x1b inside",
    "line\nbreaks\r\nand\ttabs inside",
    "DEL \x7f and C1 \x85\x9f",
    "separators \u2028 \u2029 and BOM \ufeff",
    "emoji \U0001f95b and CJK \u725b\u5976",
    "replacement \ufffd and private \ue000",
    "</script><!-- html -->",
    "\u00e9\u0301 combining",
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_sql_json_is_what_pydantic_writes(db: Database, user_id: str, text: str) -> None:
    created = repository.create_task(db, user_id, TaskCreate(title=f"t {text} t", description=text)).task
    updated = repository.update_task(db, user_id, created.id, TaskUpdate(completed=True))
    for record in (created, updated, repository.get_task(db, user_id, created.id)):
        assert record.body == Task.model_validate_json(record.body).model_dump_json()
    [listed] = list_tasks(db, user_id, limit=1).tasks
    assert listed.model_dump_json() == updated.body


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_sql_json_of_a_create_with_a_key_is_what_pydantic_writes(db: Database, user_id: str, text: str) -> None:
    # That body is written by migration 0005's function, apart from the other statements'.
    task = TaskCreate(title=f"t {text} t", description=text)
    key = IdempotencyKey(key="k", fingerprint=fingerprint(task), ttl_s=60)
    created = repository.create_task(db, user_id, task, key).task
    assert created.body == Task.model_validate_json(created.body).model_dump_json()
    assert created == repository.get_task(db, user_id, created.id)  # the same text and tag as a read


@pytest.mark.parametrize("description", [None, ""])
def test_null_and_empty_descriptions(db: Database, user_id: str, description: str | None) -> None:
    record = repository.create_task(db, user_id, TaskCreate(title="t", description=description)).task
    assert record.body == Task.model_validate_json(record.body).model_dump_json()
    assert Task.model_validate_json(record.body).description == description


def test_the_list_is_compact_json_like_every_other_response(db: Database, user_id: str) -> None:
    first = repository.create_task(db, user_id, TaskCreate(title="a")).task
    second = repository.create_task(db, user_id, TaskCreate(title="b", completed=True)).task
    body, last_id = repository.list_tasks_json(db, user_id, limit=10)
    assert body == f"[{first.body},{second.body}]"
    assert last_id is None
    assert repository.list_tasks_json(db, "nobody-" + user_id, limit=10) == ("[]", None)
