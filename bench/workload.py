"""The requests every contender serves: the same operations, users, bodies and seeded rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local.gateway.payload import RouteMatch, build_event
from tasks_core import sql

from .baselines import floor

OPERATIONS = ("create", "get", "list", "update", "delete")
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


@dataclass(frozen=True)
class Request:
    """One HTTP request of an operation and the status that means it worked."""

    method: str
    path: str
    query: str
    body: bytes
    status: int

    def event(self, match: RouteMatch | None = None) -> dict[str, Any]:
        """The request as a payload 2.0 event (with its route's parameters when matched)."""
        return build_event(
            method=self.method,
            raw_path=self.path,
            raw_query=self.query,
            headers=[("content-type", "application/json")],
            body=self.body,
            match=match,
        )


def request(operation: str, task_id: int) -> Request:
    """The request for an operation; `task_id` is the task it reads, changes or deletes."""
    base = f"/users/{USER}/tasks"
    if operation == "create":
        return Request("POST", base, "", json.dumps(CREATE_BODY).encode(), 201)
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


def floor_statement(operation: str, task_id: int) -> tuple[str, dict[str, Any]]:
    """The product's SQL statement of an operation and its parameters, as the floor runs it."""
    if operation == "create":
        return sql.CREATE_TASK, {"user_id": USER, "completed": False, **CREATE_BODY}
    if operation == "get":
        return sql.GET_TASK, {"user_id": USER, "task_id": task_id}
    if operation == "delete":
        return sql.DELETE_TASK, {"user_id": USER, "task_id": task_id, "if_match": None}
    if operation == "list":
        params = {"user_id": LIST_USER, "after_id": 0, "completed": None, "fetch": LIST_SIZE + 1, "limit": LIST_SIZE}
        return sql.LIST_TASKS_JSON, params
    if operation == "update":
        # UPDATE_BODY's fields set, the description left as it is.
        fields = {"title": UPDATE_BODY["title"], "description": None, "completed": UPDATE_BODY["completed"]}
        flags = {f"set_{name}": name in UPDATE_BODY for name in fields}
        return sql.UPDATE_TASK, {"user_id": USER, "task_id": task_id, "if_match": None, **fields, **flags}
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
