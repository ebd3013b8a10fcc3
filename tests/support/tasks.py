"""Tasks as models in the tests: the repository hands out JSON text, the tests compare fields."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import TypeAdapter

from tasks_core import repository
from tasks_core.db import Database
from tasks_core.models import Task, TaskCreate
from tasks_core.repository import TaskRecord

_TASK_LIST = TypeAdapter(list[Task])


def as_task(record: TaskRecord) -> Task:
    """The record's JSON as a model (which also checks that it is the contract's shape)."""
    task = Task.model_validate_json(record.body)
    assert task.id == record.id
    return task


def create(db: Database, user_id: str, title: str = "t", **fields: object) -> Task:
    """A new task of the user, as a model."""
    return as_task(repository.create_task(db, user_id, TaskCreate.model_validate({"title": title, **fields})).task)


@dataclass(frozen=True)
class TaskPage:
    """One page of a listing; `last_id` is set when another page follows."""

    tasks: list[Task]
    last_id: int | None


def list_tasks(db: Database, user_id: str, *, limit: int, after_id: int = 0, completed: bool | None = None) -> TaskPage:
    """A page of the user's tasks, as models."""
    body, last_id = repository.list_tasks_json(db, user_id, limit=limit, after_id=after_id, completed=completed)
    return TaskPage(_TASK_LIST.validate_json(body), last_id)
