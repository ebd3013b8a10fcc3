"""The order API.md checks a request in: path, headers, body size, body JSON, fields, existence.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

from tests.support.api import InProcessApi
from tests.support.contract import MAX_BODY, assert_error, tasks_path


class TestOrderOfChecks:
    """Path parameters, body size, body JSON, body fields, then existence."""

    def test_path_before_body_size(self, api: InProcessApi) -> None:
        response = api.post("/users/bad$user/tasks", body="x" * (MAX_BODY + 1))
        assert_error(response, 400, "validation_error", "user_id")

    def test_path_before_json(self, api: InProcessApi) -> None:
        assert_error(api.put("/users/u1/tasks/0", body="not json"), 400, "validation_error", "task_id")

    def test_body_size_before_json(self, api: InProcessApi, user_id: str) -> None:
        assert_error(api.patch(f"/users/{user_id}/tasks/1", body="[" * (MAX_BODY + 1)), 413, "payload_too_large")

    def test_json_before_fields(self, api: InProcessApi, user_id: str) -> None:
        assert_error(api.post(tasks_path(user_id), body='{"title": 5'), 400, "invalid_json")

    def test_fields_before_existence(self, api: InProcessApi, user_id: str) -> None:
        assert_error(api.put(f"/users/{user_id}/tasks/9999999", {"title": None}), 400, "validation_error", "title")

    def test_query_values_are_checked_with_path(self, api: InProcessApi) -> None:
        body = assert_error(api.get("/users/bad$user/tasks?limit=0"), 400, "validation_error")
        assert body["errors"][0]["field"] == "user_id"
