"""Assertions on the shapes API.md defines, shared by the handler and end-to-end tests."""

from __future__ import annotations

import re
from typing import Any

from local.gateway.payload import HttpResponse
from tests.support.api import ApiMethods

MAX_BODY = 65536  # API.md: bodies over 64 KiB are 413

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
# The operations of API.md as method and path template (template.yaml and openapi.json have these).
API_ROUTES = {
    ("POST", "/users/{user_id}/tasks"),
    ("GET", "/users/{user_id}/tasks"),
    ("GET", "/users/{user_id}/tasks/{task_id}"),
    ("PUT", "/users/{user_id}/tasks/{task_id}"),
    ("PATCH", "/users/{user_id}/tasks/{task_id}"),
    ("DELETE", "/users/{user_id}/tasks/{task_id}"),
    ("GET", "/health"),
}
# The functions of template.yaml that serve the API (one per operation, and /health).
API_FUNCTIONS = (
    "CreateTaskFunction",
    "ListTasksFunction",
    "GetTaskFunction",
    "UpdateTaskFunction",
    "DeleteTaskFunction",
    "HealthFunction",
)
TASK_FIELDS = {"id", "title", "description", "completed", "user_id", "created_at", "updated_at"}


def assert_error(response: HttpResponse, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is the contract's error body with this status and code (and field)."""
    assert response.status == status, response.body
    assert response.header("content-type") == "application/json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"]
    if code == "validation_error":
        assert body["errors"], body
        for error in body["errors"]:
            assert set(error) == {"field", "message"}
    if field is not None:
        assert field in [error["field"] for error in body["errors"]], body
    return body


def assert_task(task: dict[str, Any], **expected: Any) -> None:
    """A task resource: every field, the right types and formats, and the expected values."""
    assert set(task) == TASK_FIELDS, task
    assert isinstance(task["id"], int)
    assert task["id"] > 0
    assert isinstance(task["completed"], bool)
    assert TIMESTAMP.match(task["created_at"]), task["created_at"]
    assert TIMESTAMP.match(task["updated_at"]), task["updated_at"]
    for name, value in expected.items():
        assert task[name] == value, (name, task[name], value)


def tasks_path(user_id: str) -> str:
    """The collection of a user's tasks."""
    return f"/users/{user_id}/tasks"


def create(api: ApiMethods, user_id: str, **fields: Any) -> dict[str, Any]:
    """A new task of the user, as the 201 returned it."""
    response = api.post(tasks_path(user_id), {"title": "a task", **fields})
    assert response.status == 201, response.body
    task: dict[str, Any] = response.json()
    return task


def next_link(header: str | None) -> str | None:
    """The target of a `Link: <...>; rel="next"` header, or None without one."""
    if header is None:
        return None
    target, _, rel = header.partition(";")
    assert rel.strip() == 'rel="next"'
    assert target.startswith("<")
    assert target.endswith(">")
    return target[1:-1]
