"""The original spec's concurrency check, through the gateway and its worker pools."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.server import HttpApi
from tests.support.contract import assert_task


def test_100_concurrent_creates_give_100_distinct_tasks_all_listed(http_api: HttpApi, user_id: str) -> None:
    start = threading.Barrier(100)

    def create(index: int) -> dict[str, object]:
        start.wait()  # all 100 requests in flight together
        response = http_api.post(f"/users/{user_id}/tasks", {"title": f"task {index}"})
        assert response.status == 201, response.body
        task: dict[str, object] = response.json()
        return task

    with ThreadPoolExecutor(100) as pool:
        created = list(pool.map(create, range(100)))
    for task in created:
        assert_task(task, user_id=user_id)
    ids = {task["id"] for task in created}
    assert len(ids) == 100
    listed = http_api.get(f"/users/{user_id}/tasks?limit=200").json()
    assert {task["id"] for task in listed} == ids
    assert sorted(task["title"] for task in listed) == sorted(f"task {index}" for index in range(100))
