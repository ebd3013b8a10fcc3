"""GET /users/{user_id}/tasks: order, filter, pages, cursors, limits.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.api import InProcessApi
from tests.support.contract import assert_error, create, next_link, tasks_path


class TestList:
    def test_no_tasks_is_an_empty_array(self, api: InProcessApi, user_id: str) -> None:
        response = api.get(tasks_path(user_id))
        assert response.status == 200
        assert response.json() == []
        assert response.header("link") is None

    def test_tasks_in_id_order_only_the_users(self, api: InProcessApi, user_id: str, other_user_id: str) -> None:
        mine = [create(api, user_id, title=f"t{i}") for i in range(3)]
        create(api, other_user_id)
        listed = api.get(tasks_path(user_id)).json()
        assert listed == mine
        assert [task["id"] for task in listed] == sorted(task["id"] for task in listed)

    def test_completed_filter(self, api: InProcessApi, user_id: str) -> None:
        done = create(api, user_id, completed=True)
        open_ = create(api, user_id)
        assert api.get(f"{tasks_path(user_id)}?completed=true").json() == [done]
        assert api.get(f"{tasks_path(user_id)}?completed=false").json() == [open_]

    @pytest.mark.parametrize(
        "query",
        [
            "completed=yes",
            "completed=1",
            "completed=",
            "completed=TRUE",
            "limit=0",
            "limit=201",
            "limit=-1",
            "limit=abc",
            "limit=1.5",
            "limit=",
            "limit=1e2",
            "limit=5&limit=6",
            "cursor=",
            "cursor=garbage!",
            "cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
    )
    def test_malformed_query_values_are_400(self, api: InProcessApi, user_id: str, query: str) -> None:
        field = query.split("=", maxsplit=1)[0]
        assert_error(api.get(f"{tasks_path(user_id)}?{query}"), 400, "validation_error", field)

    def test_unknown_query_parameters_are_ignored(self, api: InProcessApi, user_id: str) -> None:
        task = create(api, user_id)
        assert api.get(f"{tasks_path(user_id)}?sort=desc&page=3").json() == [task]

    def test_default_page_is_100(self, api: InProcessApi, user_id: str) -> None:
        for index in range(101):
            create(api, user_id, title=f"t{index}")
        response = api.get(tasks_path(user_id))
        assert len(response.json()) == 100
        link = next_link(response.header("link"))
        assert link is not None
        assert parse_qs(urlsplit(link).query)["limit"] == ["100"]
        rest = api.get(link)
        assert [task["title"] for task in rest.json()] == ["t100"]
        assert rest.header("link") is None

    def test_pages_follow_links_and_keep_the_filter(self, api: InProcessApi, user_id: str) -> None:
        tasks = [create(api, user_id, title=f"t{i}", completed=i % 3 == 0) for i in range(11)]
        expected = [task for task in tasks if not task["completed"]]
        seen: list[dict[str, Any]] = []
        path: str | None = f"{tasks_path(user_id)}?completed=false&limit=2"
        pages = 0
        while path is not None:
            response = api.get(path)
            assert response.status == 200
            page = response.json()
            assert 1 <= len(page) <= 2
            seen.extend(page)
            pages += 1
            path = next_link(response.header("link"))
            if path is not None:
                assert path.startswith(f"/users/{user_id}/tasks?")
                query = parse_qs(urlsplit(path).query)
                assert query["limit"] == ["2"]
                assert query["completed"] == ["false"]
        assert seen == expected
        assert pages == 4  # 7 open tasks, 2 a page; no empty last page

    def test_page_that_exactly_ends_the_list_has_no_link(self, api: InProcessApi, user_id: str) -> None:
        for _ in range(4):
            create(api, user_id)
        first = api.get(f"{tasks_path(user_id)}?limit=2")
        second = api.get(next_link(first.header("link")) or "")
        assert len(second.json()) == 2
        assert second.header("link") is None

    def test_limit_bounds(self, api: InProcessApi, user_id: str) -> None:
        for _ in range(3):
            create(api, user_id)
        assert len(api.get(f"{tasks_path(user_id)}?limit=1").json()) == 1
        assert len(api.get(f"{tasks_path(user_id)}?limit=200").json()) == 3

    def test_tampered_cursor_is_400(self, api: InProcessApi, user_id: str) -> None:
        for _ in range(3):
            create(api, user_id)
        link = next_link(api.get(f"{tasks_path(user_id)}?limit=1").header("link")) or ""
        cursor = parse_qs(urlsplit(link).query)["cursor"][0]
        for index in range(len(cursor)):
            flipped = "A" if cursor[index] != "A" else "B"
            tampered = cursor[:index] + flipped + cursor[index + 1 :]
            response = api.get(f"{tasks_path(user_id)}?limit=1&cursor={tampered}")
            assert_error(response, 400, "validation_error", "cursor")
        assert api.get(f"{tasks_path(user_id)}?limit=1&cursor={cursor}").status == 200

    def test_cursor_is_bound_to_its_user(self, api: InProcessApi, user_id: str, other_user_id: str) -> None:
        for _ in range(2):
            create(api, user_id)
        link = next_link(api.get(f"{tasks_path(user_id)}?limit=1").header("link")) or ""
        cursor = parse_qs(urlsplit(link).query)["cursor"][0]
        assert_error(api.get(f"{tasks_path(other_user_id)}?cursor={cursor}"), 400, "validation_error", "cursor")
