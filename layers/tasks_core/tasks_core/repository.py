"""The data operations: each runs one statement of sql.py in one round trip, and turns its
answer into the API's outcome (a TaskRecord, or a typed error: 404, 412, 409, 422).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import tuple_row

from . import sql
from .db import Database
from .errors import DatabaseUnavailable, IdempotencyKeyInFlight, IdempotencyKeyReused, PreconditionFailed, TaskNotFound
from .models import TaskCreate, TaskUpdate

# A request holding a key is one statement that has run for lock_timeout already: it ends soon.
IN_FLIGHT_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class TaskRecord:
    """A task as the API sends it: its id, its strong ETag and its JSON body."""

    id: int
    etag: str
    body: str


@dataclass(frozen=True)
class CreatedTask:
    """The answer to a create: the task, and whether it is a stored answer given again."""

    task: TaskRecord
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key, the fingerprint of its request, and how long to keep it."""

    key: str
    fingerprint: str
    ttl_s: int


def create_task(db: Database, user_id: str, task: TaskCreate, key: IdempotencyKey | None = None) -> CreatedTask:
    """Insert a task (and its user on first use); with a key, at most once per key.

    Raises IdempotencyKeyReused when the key was used for another request, and
    IdempotencyKeyInFlight when the request holding it did not finish in time.
    """
    params = {"user_id": user_id, **task.model_dump()}
    if key is None:
        task_id, etag, body = db.fetch(sql.CREATE_TASK, params, tuple_row, idempotent=False)[0]
        return CreatedTask(TaskRecord(task_id, etag, body))
    params |= {"key": key.key, "fingerprint": key.fingerprint, "ttl_s": key.ttl_s}
    try:
        # Retrying is safe: a second run replays what the first one stored, or does its work.
        row = db.fetch(sql.CREATE_TASK_WITH_KEY, params, tuple_row, idempotent=True)[0]
    except DatabaseUnavailable as exc:
        # The wait for a request holding the key ran past lock_timeout (role default).
        if isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
            raise IdempotencyKeyInFlight(IN_FLIGHT_RETRY_AFTER_S) from exc
        raise
    task_id, fingerprint, etag, body, created = row
    if fingerprint != key.fingerprint:
        raise IdempotencyKeyReused()
    return CreatedTask(TaskRecord(task_id, etag, body), replayed=not created)


def get_task(db: Database, user_id: str, task_id: int) -> TaskRecord:
    """The user's task; TaskNotFound when there is none."""
    rows = db.fetch(sql.GET_TASK, {"user_id": user_id, "task_id": task_id}, tuple_row, idempotent=True)
    if not rows:
        raise TaskNotFound()
    return TaskRecord(*rows[0])


def list_tasks_json(
    db: Database,
    user_id: str,
    *,
    limit: int,
    after_id: int = 0,
    completed: bool | None = None,
) -> tuple[str, int | None]:
    """Up to `limit` of the user's tasks with id > after_id, in id order, as a JSON array;
    and the last id when another page follows."""
    params = {"user_id": user_id, "after_id": after_id, "completed": completed, "fetch": limit + 1, "limit": limit}
    body, last_id = db.fetch(sql.LIST_TASKS_JSON, params, tuple_row, idempotent=True)[0]
    return str(body), last_id


def update_task(
    db: Database,
    user_id: str,
    task_id: int,
    changes: TaskUpdate,
    if_match: list[str] | None = None,
) -> TaskRecord:
    """Apply the fields present in `changes`, if the task's ETag is one of `if_match` (None: any).

    Raises TaskNotFound when the task is not the user's, PreconditionFailed when the tag is stale.
    """
    present = changes.model_fields_set
    if not present:
        # `{}` changes nothing, updated_at included: the task as it is, if the tags allow.
        found = get_task(db, user_id, task_id)
        if if_match is not None and found.etag not in if_match:
            raise PreconditionFailed()
        return found
    params = {
        "user_id": user_id,
        "task_id": task_id,
        "if_match": if_match,
        **changes.model_dump(),
        **{f"set_{name}": name in present for name in TaskUpdate.model_fields},
    }
    # A guarded update whose connection died may have committed: run again, its tag would be
    # stale and the client told 412 for its own change, so it is not retried (503 instead).
    rows = db.fetch(sql.UPDATE_TASK, params, tuple_row, idempotent=if_match is None)
    if not rows:
        raise TaskNotFound()
    found_id, etag, body = rows[0]
    if etag is None:
        raise PreconditionFailed()
    return TaskRecord(found_id, etag, body)


def delete_task(db: Database, user_id: str, task_id: int, if_match: list[str] | None = None) -> None:
    """Delete the user's task if its ETag is one of `if_match` (None: any).

    Raises TaskNotFound when the task is not the user's, PreconditionFailed when the tag is stale.
    """
    params = {"user_id": user_id, "task_id": task_id, "if_match": if_match}
    deleted, existed = db.fetch(sql.DELETE_TASK, params, tuple_row, idempotent=if_match is None)[0]
    if not existed:
        raise TaskNotFound()
    if not deleted:
        raise PreconditionFailed()


def purge_expired_keys(db: Database, batch: int) -> int:
    """Delete up to `batch` expired idempotency keys; return how many were deleted."""
    count: int = db.fetch(sql.PURGE_EXPIRED_KEYS, {"batch": batch}, tuple_row, idempotent=True)[0][0]
    return count


def ping(db: Database) -> None:
    """Raise DatabaseUnavailable unless the database answers."""
    db.fetch(sql.PING, {}, tuple_row, idempotent=True)
