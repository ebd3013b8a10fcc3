"""DELETE /users/{user_id}/tasks/{task_id}.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

from tests.support.api import InProcessApi
from tests.support.contract import assert_error, create, tasks_path


class TestDelete:
    def test_delete(self, api: InProcessApi, user_id: str) -> None:
        task, kept = create(api, user_id), create(api, user_id)
        response = api.delete(f"{tasks_path(user_id)}/{task['id']}")
        assert response.status == 200
        assert response.json() == {"message": "Task deleted successfully"}
        assert_error(api.get(f"{tasks_path(user_id)}/{task['id']}"), 404, "not_found")
        assert_error(api.delete(f"{tasks_path(user_id)}/{task['id']}"), 404, "not_found")
        assert api.get(tasks_path(user_id)).json() == [kept]

    def test_cannot_delete_another_users_task(self, api: InProcessApi, user_id: str, other_user_id: str) -> None:
        foreign = create(api, other_user_id)
        assert_error(api.delete(f"{tasks_path(user_id)}/{foreign['id']}"), 404, "not_found")
        assert api.get(f"{tasks_path(other_user_id)}/{foreign['id']}").status == 200
