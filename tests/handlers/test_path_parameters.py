"""user_id and task_id on every route: the alphabet, percent-decoding, bounds.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import InProcessApi
from tests.support.contract import assert_error, create

GOOD_USER_IDS = [
    "a",
    "x" * 128,
    "user-123",
    "auth0|5f7c8ec7c33c6c004bbafe82",
    "us-east-1:1234abcd-12ab-34cd-56ef-1234567890ab",
    "john.doe+tasks@example.com",
    "A.Z_a~z-0:9",
    "42",
    "...",  # only . and .. are path segments a client normalises away
    ".dotfile",
]
BAD_USER_IDS = [
    "x" * 129,
    "bad%20user",  # a space
    "bad$user",
    "bad%24user",
    "caf%C3%A9",  # é
    "a%2Fb",  # a slash, encoded
    "semi;colon",
    "quote'",
    "%00",
    ".",
    "..",
    "%2E",
    "%2e%2E",
]


class TestPathParameters:
    @pytest.mark.parametrize("user", GOOD_USER_IDS)
    def test_allowed_user_ids(self, api: InProcessApi, user: str) -> None:
        task = create(api, user)
        assert task["user_id"] == user
        assert api.get(f"/users/{user}/tasks/{task['id']}").json() == task

    def test_user_id_may_be_percent_encoded(self, api: InProcessApi) -> None:
        task = create(api, "auth0%7Cencoded")
        assert task["user_id"] == "auth0|encoded"

    def test_location_is_percent_encoded_where_rfc_3986_requires(self, api: InProcessApi) -> None:
        response = api.post("/users/auth0|loc/tasks", {"title": "x"})
        assert response.header("location") == f"/users/auth0%7Cloc/tasks/{response.json()['id']}"

    @pytest.mark.parametrize("user", BAD_USER_IDS)
    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("POST", "", {"title": "x"}),
            ("GET", "", None),
            ("GET", "/1", None),
            ("PUT", "/1", {"title": "x"}),
            ("PATCH", "/1", {}),
            ("DELETE", "/1", None),
        ],
    )
    def test_bad_user_id_is_400_on_every_route(
        self, api: InProcessApi, user: str, method: str, suffix: str, body: dict[str, Any] | None
    ) -> None:
        response = api.request(method, f"/users/{user}/tasks{suffix}", json_body=body)
        assert_error(response, 400, "validation_error", "user_id")

    @pytest.mark.parametrize(
        "task_id",
        ["0", "-1", "abc", "1.5", "1e3", "+1", "%201", "1_000", "9223372036854775808", "99999999999999999999"],
    )
    @pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
    def test_bad_task_id_is_400(self, api: InProcessApi, user_id: str, task_id: str, method: str) -> None:
        body = {"title": "x"} if method in ("PUT", "PATCH") else None
        response = api.request(method, f"/users/{user_id}/tasks/{task_id}", json_body=body)
        assert_error(response, 400, "validation_error", "task_id")

    def test_largest_task_id_is_valid_and_missing(self, api: InProcessApi, user_id: str) -> None:
        assert_error(api.get(f"/users/{user_id}/tasks/9223372036854775807"), 404, "not_found")

    def test_leading_zeros_are_the_same_id(self, api: InProcessApi, user_id: str) -> None:
        task = create(api, user_id)
        assert api.get(f"/users/{user_id}/tasks/000{task['id']}").json() == task
