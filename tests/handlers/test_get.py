"""GET /users/{user_id}/tasks/{task_id}: one task, never another user's.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

from tests.support.api import InProcessApi
from tests.support.contract import assert_error, create, tasks_path


class TestGet:
    def test_own_task(self, api: InProcessApi, user_id: str) -> None:
        task = create(api, user_id, title="mine")
        response = api.get(f"{tasks_path(user_id)}/{task['id']}")
        assert response.status == 200
        assert response.json() == task

    def test_missing_and_foreign_tasks_are_the_same_404(
        self, api: InProcessApi, user_id: str, other_user_id: str
    ) -> None:
        foreign = create(api, other_user_id)
        missing_id = foreign["id"] + 10_000_000
        for method, body in (("GET", None), ("PUT", {"title": "x"}), ("PATCH", {"completed": True}), ("DELETE", None)):
            responses = [
                api.request(method, f"{tasks_path(user_id)}/{task_id}", json_body=body)
                for task_id in (foreign["id"], missing_id)
            ]
            bodies = [assert_error(response, 404, "not_found") for response in responses]
            for body_ in bodies:
                del body_["request_id"]
            assert bodies[0] == bodies[1]
            assert dict(responses[0].headers).keys() == dict(responses[1].headers).keys()
        assert api.get(f"{tasks_path(other_user_id)}/{foreign['id']}").json() == foreign  # untouched
