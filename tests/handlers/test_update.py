"""PUT and PATCH /users/{user_id}/tasks/{task_id}: partial updates, the same for both methods.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.api import InProcessApi
from tests.support.contract import MAX_BODY, assert_error, assert_task, create, tasks_path


@pytest.fixture(params=["PUT", "PATCH"])
def update_method(request: pytest.FixtureRequest) -> str:
    method: str = request.param
    return method


class TestUpdate:
    def test_only_present_fields_change(self, api: InProcessApi, user_id: str, update_method: str) -> None:
        task = create(api, user_id, title="before", description="keep me")
        response = api.request(update_method, f"{tasks_path(user_id)}/{task['id']}", json_body={"completed": True})
        assert response.status == 200
        updated = response.json()
        assert_task(updated, title="before", description="keep me", completed=True, id=task["id"], user_id=user_id)
        assert updated["created_at"] == task["created_at"]
        assert updated["updated_at"] > task["updated_at"]
        assert api.get(f"{tasks_path(user_id)}/{task['id']}").json() == updated

    def test_every_field(self, api: InProcessApi, user_id: str, update_method: str) -> None:
        task = create(api, user_id)
        changes = {"title": "  new title ", "description": "new", "completed": True}
        updated = api.request(update_method, f"{tasks_path(user_id)}/{task['id']}", json_body=changes).json()
        assert_task(updated, title="new title", description="new", completed=True)

    def test_empty_body_changes_nothing(self, api: InProcessApi, user_id: str, update_method: str) -> None:
        task = create(api, user_id)
        response = api.request(update_method, f"{tasks_path(user_id)}/{task['id']}", json_body={})
        assert response.status == 200
        assert response.json() == task

    def test_updated_at_moves_forward_even_for_the_same_value(
        self, api: InProcessApi, user_id: str, update_method: str
    ) -> None:
        task = create(api, user_id, title="same")
        stamps = [task["updated_at"]]
        for _ in range(3):
            path = f"{tasks_path(user_id)}/{task['id']}"
            stamps.append(api.request(update_method, path, json_body={"title": "same"}).json()["updated_at"])
        assert stamps == sorted(stamps)
        assert len(set(stamps)) == len(stamps)

    def test_null_description_clears_it(self, api: InProcessApi, user_id: str, update_method: str) -> None:
        task = create(api, user_id, description="to clear")
        path = f"{tasks_path(user_id)}/{task['id']}"
        assert api.request(update_method, path, json_body={"description": None}).json()["description"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"title": None}, "title"),
            ({"title": ""}, "title"),
            ({"title": " "}, "title"),
            ({"title": "x" * 501}, "title"),
            ({"completed": None}, "completed"),
            ({"completed": "false"}, "completed"),
            ({"completed": 0}, "completed"),
            ({"description": "x" * 5001}, "description"),
            ({"description": False}, "description"),
            ({"user_id": "someone"}, "user_id"),
            ({"id": 5}, "id"),
            ({"created_at": "2020-01-01T00:00:00.000000Z"}, "created_at"),
            ({"title": "\u0000"}, "title"),
        ],
    )
    def test_invalid_changes_are_400_and_nothing_changes(
        self, api: InProcessApi, user_id: str, update_method: str, body: dict[str, Any], field: str
    ) -> None:
        task = create(api, user_id)
        response = api.request(update_method, f"{tasks_path(user_id)}/{task['id']}", json_body=body)
        assert_error(response, 400, "validation_error", field)
        assert api.get(f"{tasks_path(user_id)}/{task['id']}").json() == task

    def test_partly_invalid_body_writes_nothing(self, api: InProcessApi, user_id: str, update_method: str) -> None:
        task = create(api, user_id)
        path = f"{tasks_path(user_id)}/{task['id']}"
        assert api.request(update_method, path, json_body={"title": "valid", "completed": "no"}).status == 400
        assert api.get(path).json() == task

    @pytest.mark.parametrize("body", ["", "[]", "null", "{"])
    def test_invalid_json(self, api: InProcessApi, user_id: str, update_method: str, body: str) -> None:
        task = create(api, user_id)
        response = api.request(update_method, f"{tasks_path(user_id)}/{task['id']}", body=body)
        assert_error(response, 400, "invalid_json")

    def test_put_and_patch_are_the_same(self, api: InProcessApi, user_id: str) -> None:
        a, b = create(api, user_id, title="same"), create(api, user_id, title="same")
        changes = {"description": "d", "completed": True}
        put = api.put(f"{tasks_path(user_id)}/{a['id']}", changes).json()
        patch = api.patch(f"{tasks_path(user_id)}/{b['id']}", changes).json()
        for result in (put, patch):
            del result["id"], result["created_at"], result["updated_at"]
        assert put == patch

    def test_too_large_is_413(self, api: InProcessApi, user_id: str, update_method: str) -> None:
        task = create(api, user_id)
        body = json.dumps({"description": "x" * MAX_BODY})
        response = api.request(update_method, f"{tasks_path(user_id)}/{task['id']}", body=body)
        assert_error(response, 413, "payload_too_large")
