"""Concurrency through the gateway and its worker pools: the original spec's check, retries
racing on one Idempotency-Key, and writers racing on one ETag."""

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


def test_twenty_duplicates_at_once_create_one_task(http_api: HttpApi, user_id: str) -> None:
    start = threading.Barrier(20)

    def create(_: int) -> tuple[int, bytes, str | None]:
        start.wait()
        response = http_api.post(f"/users/{user_id}/tasks", {"title": "once"}, headers={"idempotency-key": "storm"})
        return response.status, response.body, response.header("idempotent-replayed")

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(create, range(20)))
    assert {status for status, _, _ in answers} == {201}
    assert len({body for _, body, _ in answers}) == 1
    assert sorted(str(replayed) for _, _, replayed in answers) == ["None"] + ["true"] * 19
    assert len(http_api.get(f"/users/{user_id}/tasks").json()) == 1


def test_ten_guarded_writers_with_one_tag_one_wins(http_api: HttpApi, user_id: str) -> None:
    created = http_api.post(f"/users/{user_id}/tasks", {"title": "v1"})
    location, tag = created.header("location"), created.header("etag")
    assert location is not None
    assert tag is not None
    start = threading.Barrier(10)

    def write(index: int) -> int:
        start.wait()
        return http_api.patch(location, {"title": f"by {index}"}, headers={"if-match": tag}).status

    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(write, range(10)))
    assert statuses == [200] + [412] * 9
