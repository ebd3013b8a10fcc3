"""The requests every contender serves: the same operations, users, bodies and seeded rows."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from local.gateway.payload import RouteMatch, build_event
from tasks_core import sql
from tasks_core.idempotency import fingerprint
from tasks_core.models import TaskCreate

from .baselines import floor

OPERATIONS = ("create", "get", "list", "update", "delete")  # one function each; the lambdalith serves them
# The same operations with the contract's headers (API.md, "Retries and concurrent edits"), which
# the lambdalith does not implement: each is compared with the lambdalith's plain operation (which
# does less) and with its own floor, the same statement with the same parameters.
VARIANTS = {
    "create_keyed": "create",  # Idempotency-Key, a new one each time: a create, not a replay
    "get_if_none_match": "get",  # the task's current ETag: a 304, whose floor is the GET statement
    "update_if_match": "update",  # the task's current ETag: the statement's guarded write
    "delete_if_match": "delete",
}
# Every warm operation, in the order one repetition runs them: the plain ones on the seeded task
# (delete on what create made), the guarded ones on what create_keyed made, with its latest ETag.
WARM_OPERATIONS = (
    "create",
    "create_keyed",
    "get",
    "get_if_none_match",
    "list",
    "update",
    "update_if_match",
    "delete",
    "delete_if_match",
)
FUNCTION_OPERATION = {
    "CreateTaskFunction": "create",
    "GetTaskFunction": "get",
    "ListTasksFunction": "list",
    "UpdateTaskFunction": "update",
    "DeleteTaskFunction": "delete",
    "HealthFunction": "health",
}
USER = "bench-user"
LIST_USER = "bench-list"  # holds exactly LIST_SIZE tasks
LIST_SIZE = 100
CREATE_BODY = {"title": "Buy milk", "description": "2 litres"}
UPDATE_BODY = {"title": "Buy oat milk", "completed": True}
KEY_TTL_S = 24 * 3600  # the product's default (IDEMPOTENCY_KEY_TTL_SECONDS)
# The create body's fingerprint, which the product computes per request and the floor passes.
CREATE_FINGERPRINT = fingerprint(TaskCreate.model_validate(CREATE_BODY))


def status(operation: str) -> int:
    """The status that means an operation worked."""
    return {"create": 201, "create_keyed": 201, "get_if_none_match": 304}.get(operation, 200)


def base_operation(operation: str) -> str:
    """The plain operation of a variant (the operation itself otherwise)."""
    return VARIANTS.get(operation, operation)


@dataclass
class Tasks:
    """The tasks one contender's repetition works on: the seeded one, and those it created with
    their latest ETags, so every request is valid (a guarded write needs the current tag)."""

    seeded: int
    created: dict[str, tuple[int, str]]

    def target(self, operation: str) -> tuple[int, str | None]:
        """The task id (0 for a create) and the ETag an operation sends."""
        if operation in ("create", "create_keyed"):
            return 0, None
        if operation == "delete":
            return self.created["create"][0], None
        if operation in VARIANTS:
            return self.created["create_keyed"]
        return self.seeded, None

    def record(self, operation: str, answer: tuple[int, str] | None) -> None:
        """Remember the task and ETag an operation answered, for the operations after it."""
        if answer is None:
            return
        if operation in ("create", "create_keyed"):
            self.created[operation] = answer
        elif operation == "update_if_match":
            self.created["create_keyed"] = answer


@dataclass(frozen=True)
class Request:
    """One HTTP request of an operation and the status that means it worked."""

    method: str
    path: str
    query: str
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...] = ()

    def event(self, match: RouteMatch | None = None) -> dict[str, Any]:
        """The request as a payload 2.0 event (with its route's parameters when matched)."""
        return build_event(
            method=self.method,
            raw_path=self.path,
            raw_query=self.query,
            headers=[("content-type", "application/json"), *self.headers],
            body=self.body,
            match=match,
        )


def request(operation: str, task_id: int, etag: str | None = None) -> Request:  # noqa: PLR0911  # one per operation
    """The request for an operation; `task_id` is the task it reads, changes or deletes, `etag`
    the tag a conditional one sends (a keyed create makes a key of its own)."""
    base = f"/users/{USER}/tasks"
    if operation == "create":
        return Request("POST", base, "", json.dumps(CREATE_BODY).encode(), 201)
    if operation == "create_keyed":
        key = (("idempotency-key", uuid.uuid4().hex),)
        return Request("POST", base, "", json.dumps(CREATE_BODY).encode(), 201, key)
    if operation == "get_if_none_match":
        return Request("GET", f"{base}/{task_id}", "", b"", 304, (("if-none-match", _tag(etag)),))
    if operation == "update_if_match":
        headers = (("if-match", _tag(etag)),)
        return Request("PATCH", f"{base}/{task_id}", "", json.dumps(UPDATE_BODY).encode(), 200, headers)
    if operation == "delete_if_match":
        return Request("DELETE", f"{base}/{task_id}", "", b"", 200, (("if-match", _tag(etag)),))
    if operation == "get":
        return Request("GET", f"{base}/{task_id}", "", b"", 200)
    if operation == "list":
        return Request("GET", f"/users/{LIST_USER}/tasks", f"limit={LIST_SIZE}", b"", 200)
    if operation == "update":
        return Request("PATCH", f"{base}/{task_id}", "", json.dumps(UPDATE_BODY).encode(), 200)
    if operation == "delete":
        return Request("DELETE", f"{base}/{task_id}", "", b"", 200)
    if operation == "health":
        return Request("GET", "/health", "", b"", 200)
    raise ValueError(f"unknown operation {operation}")


def _tag(etag: str | None) -> str:
    if etag is None:
        raise ValueError("a conditional request needs the task's ETag")
    return etag


def floor_statement(  # noqa: PLR0911  # one return per operation
    operation: str, task_id: int, etag: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The product's SQL statement of an operation and its parameters, as the floor runs it."""
    if operation == "create":
        return sql.CREATE_TASK, {"user_id": USER, "completed": False, **CREATE_BODY}
    if operation == "create_keyed":
        key = {"key": uuid.uuid4().hex, "fingerprint": CREATE_FINGERPRINT, "ttl_s": KEY_TTL_S}
        return sql.CREATE_TASK_WITH_KEY, {"user_id": USER, "completed": False, **CREATE_BODY, **key}
    if operation in ("get", "get_if_none_match"):  # the product compares the tags in Python
        return sql.GET_TASK, {"user_id": USER, "task_id": task_id}
    if operation in ("delete", "delete_if_match"):
        if_match = [_tag(etag)] if operation == "delete_if_match" else None
        return sql.DELETE_TASK, {"user_id": USER, "task_id": task_id, "if_match": if_match}
    if operation == "list":
        params = {"user_id": LIST_USER, "after_id": 0, "completed": None, "fetch": LIST_SIZE + 1, "limit": LIST_SIZE}
        return sql.LIST_TASKS_JSON, params
    if operation in ("update", "update_if_match"):
        # UPDATE_BODY's fields set, the description left as it is.
        fields = {"title": UPDATE_BODY["title"], "description": None, "completed": UPDATE_BODY["completed"]}
        flags = {f"set_{name}": name in UPDATE_BODY for name in fields}
        if_match = [_tag(etag)] if operation == "update_if_match" else None
        return sql.UPDATE_TASK, {"user_id": USER, "task_id": task_id, "if_match": if_match, **fields, **flags}
    if operation == "health":
        return sql.PING, {}
    raise ValueError(f"unknown operation {operation}")


def _create(conn: floor.Connection) -> int:
    return int(floor.run(conn, *floor_statement("create", 0))[0][0])


def seed(conninfo: str) -> int:
    """Give the list user LIST_SIZE tasks and create one task to read and update; that task's id."""
    with floor.connect(conninfo) as conn:
        count = "SELECT count(*) FROM tasks WHERE user_id = %(user_id)s"
        listed = int(floor.run(conn, count, {"user_id": LIST_USER})[0][0])
        if listed == 0:  # the first through the product's statement, which also creates the user
            floor.run(
                conn,
                sql.CREATE_TASK,
                {"user_id": LIST_USER, "title": "Task 0", "description": None, "completed": False},
            )
            listed = 1
        if listed < LIST_SIZE:
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO tasks (user_id, title) VALUES (%(user_id)s, %(title)s)",
                    [{"user_id": LIST_USER, "title": f"Task {n}"} for n in range(listed, LIST_SIZE)],
                )
        return _create(conn)


def spare_tasks(conninfo: str, count: int) -> list[int]:
    """Tasks to delete, one per sample that deletes."""
    with floor.connect(conninfo) as conn:
        return [_create(conn) for _ in range(count)]
