"""Every row of API.md, through the template's routes and the real handlers, on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.api import InProcessApi
from tests.support.contract import assert_error, assert_task

MAX_BODY = 65536


def tasks_path(user_id: str) -> str:
    return f"/users/{user_id}/tasks"


def create(api: InProcessApi, user_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post(tasks_path(user_id), {"title": "a task", **fields})
    assert response.status == 201, response.body
    task: dict[str, Any] = response.json()
    return task


def next_link(header: str | None) -> str | None:
    if header is None:
        return None
    target, _, rel = header.partition(";")
    assert rel.strip() == 'rel="next"'
    assert target.startswith("<")
    assert target.endswith(">")
    return target[1:-1]


# --- POST /users/{user_id}/tasks -------------------------------------------------------------


class TestCreate:
    def test_created_task_is_returned_with_location(self, api: InProcessApi, user_id: str) -> None:
        response = api.post(tasks_path(user_id), {"title": "Buy milk", "description": "2 litres"})
        assert response.status == 201
        assert response.header("content-type") == "application/json"
        task = response.json()
        assert_task(task, title="Buy milk", description="2 litres", completed=False, user_id=user_id)
        assert task["created_at"] == task["updated_at"]
        assert response.header("location") == f"/users/{user_id}/tasks/{task['id']}"

    def test_defaults(self, api: InProcessApi, user_id: str) -> None:
        task = create(api, user_id)
        assert task["description"] is None
        assert task["completed"] is False

    def test_completed_and_empty_description_are_kept(self, api: InProcessApi, user_id: str) -> None:
        task = create(api, user_id, description="", completed=True)
        assert task["description"] == ""
        assert task["completed"] is True

    def test_ids_are_unique_across_users(self, api: InProcessApi, user_id: str, other_user_id: str) -> None:
        ids = [create(api, user)["id"] for user in (user_id, other_user_id, user_id)]
        assert len(set(ids)) == 3

    @pytest.mark.parametrize(
        ("title", "stored"),
        [
            ("  padded  ", "padded"),
            ("\u3000\u00a0ideographic and no-break spaces\u2003\n", "ideographic and no-break spaces"),
            ("inner   spaces stay", "inner   spaces stay"),
        ],
    )
    def test_title_is_stripped_of_unicode_white_space(
        self, api: InProcessApi, user_id: str, title: str, stored: str
    ) -> None:
        assert create(api, user_id, title=title)["title"] == stored

    def test_title_length_counts_code_points_after_stripping(self, api: InProcessApi, user_id: str) -> None:
        assert create(api, user_id, title="x" * 500)["title"] == "x" * 500
        assert create(api, user_id, title="  " + "x" * 500 + "  ")["title"] == "x" * 500
        # 500 emoji are 2000 UTF-8 bytes and 1000 UTF-16 units, but 500 characters.
        assert create(api, user_id, title="\U0001f600" * 500)["title"] == "\U0001f600" * 500

    def test_description_length_counts_code_points(self, api: InProcessApi, user_id: str) -> None:
        assert len(create(api, user_id, description="\u00e9" * 5000)["description"]) == 5000

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "title"),
            ({"title": ""}, "title"),
            ({"title": "   \t\u3000"}, "title"),
            ({"title": "x" * 501}, "title"),
            ({"title": None}, "title"),
            ({"title": 5}, "title"),
            ({"title": ["a"]}, "title"),
            ({"title": "ok", "description": "x" * 5001}, "description"),
            ({"title": "ok", "description": 5}, "description"),
            ({"title": "ok", "completed": "true"}, "completed"),
            ({"title": "ok", "completed": 1}, "completed"),
            ({"title": "ok", "completed": None}, "completed"),
            ({"title": "ok", "user_id": "someone-else"}, "user_id"),
            ({"title": "ok", "titel": "misspelt"}, "titel"),
            ({"title": "nul\u0000byte"}, "title"),
            ({"title": "ok", "description": "nul\u0000byte"}, "description"),
        ],
    )
    def test_invalid_fields_are_400(self, api: InProcessApi, user_id: str, body: dict[str, Any], field: str) -> None:
        assert_error(api.post(tasks_path(user_id), body), 400, "validation_error", field)
        assert api.get(tasks_path(user_id)).json() == []  # nothing was written

    @pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\ud83dz"])
    def test_unpaired_surrogates_are_400(self, api: InProcessApi, user_id: str, escape: str) -> None:
        body = '{"title": "' + escape + '"}'
        assert_error(api.post(tasks_path(user_id), body=body), 400, "validation_error", "title")
        body = '{"title": "ok", "description": "' + escape + '"}'
        assert_error(api.post(tasks_path(user_id), body=body), 400, "validation_error", "description")

    def test_paired_surrogate_escapes_are_one_character(self, api: InProcessApi, user_id: str) -> None:
        response = api.post(tasks_path(user_id), body='{"title": "\\ud83d\\ude00"}')
        assert response.json()["title"] == "\U0001f600"

    def test_error_lists_every_broken_field(self, api: InProcessApi, user_id: str) -> None:
        body = assert_error(
            api.post(tasks_path(user_id), {"title": "", "completed": "no", "x": 1}), 400, "validation_error"
        )
        assert {error["field"] for error in body["errors"]} == {"title", "completed", "x"}
        assert body["detail"].startswith(body["errors"][0]["field"])

    @pytest.mark.parametrize(
        "body",
        [
            "",
            "not json",
            "{",
            '{"title": "a",}',
            "[]",
            '["title"]',
            "null",
            "42",
            '"a string"',
            "true",
            '{"title": NaN}',
            '{"title": "a", "completed": Infinity}',
        ],
    )
    def test_body_that_is_not_a_json_object_is_invalid_json(self, api: InProcessApi, user_id: str, body: str) -> None:
        assert_error(api.post(tasks_path(user_id), body=body), 400, "invalid_json")

    def test_body_is_json_whatever_the_content_type(self, api: InProcessApi, user_id: str) -> None:
        # curl -d sends application/x-www-form-urlencoded; the body is still JSON.
        for content_type in ("application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-8"):
            response = api.post(tasks_path(user_id), body='{"title": "typed"}', headers={"content-type": content_type})
            assert response.status == 201, (content_type, response.body)

    def test_binary_body_is_decoded_from_base64(self, api: InProcessApi, user_id: str) -> None:
        # API Gateway base64-encodes bodies of non-text types.
        response = api.post(
            tasks_path(user_id), body='{"title": "binary"}', headers={"content-type": "application/octet-stream"}
        )
        assert response.status == 201
        assert response.json()["title"] == "binary"

    @pytest.mark.parametrize(
        "content_type",
        ["application/octet-stream", "application/json", "application/x-www-form-urlencoded", "text/plain"],
    )
    def test_invalid_utf8_is_invalid_json_whatever_the_content_type(
        self, api: InProcessApi, user_id: str, content_type: str
    ) -> None:
        for body in (b'{"title": "\xff\xfe bad"}', b'{"title": "\xed\xa0\x80 surrogate"}', b'{"title": "\xc3"}'):
            response = api.post(tasks_path(user_id), body=body, headers={"content-type": content_type})
            assert_error(response, 400, "invalid_json")
        assert api.get(tasks_path(user_id)).json() == []

    def test_body_over_64_kib_is_413(self, api: InProcessApi, user_id: str) -> None:
        body = json.dumps({"title": "big", "description": "x" * MAX_BODY})
        assert_error(api.post(tasks_path(user_id), body=body), 413, "payload_too_large")
        assert api.get(tasks_path(user_id)).json() == []

    def test_body_limit_counts_bytes_not_characters(self, api: InProcessApi, user_id: str) -> None:
        # 33,000 two-byte characters: under 64 Ki characters, over 64 KiB.
        body = json.dumps({"title": "\u00e9" * 33000}, ensure_ascii=False)
        assert len(body) < MAX_BODY < len(body.encode())
        assert_error(api.post(tasks_path(user_id), body=body), 413, "payload_too_large")

    def test_body_of_exactly_64_kib_is_read(self, api: InProcessApi, user_id: str) -> None:
        prefix, suffix = '{"title": "edge", "description": "', '"}'
        body = prefix + "x" * (MAX_BODY - len(prefix) - len(suffix)) + suffix
        assert len(body.encode()) == MAX_BODY
        # Not 413: the body is read, and its description breaks the length rule.
        assert_error(api.post(tasks_path(user_id), body=body), 400, "validation_error", "description")

    @pytest.mark.parametrize("body", ["[" * 60000, '{"a":' * 12000, '{"title": "x", "x": ' + "[" * 50000 + "}"])
    def test_deeply_nested_json_is_invalid_json(self, api: InProcessApi, user_id: str, body: str) -> None:
        assert_error(api.post(tasks_path(user_id), body=body), 400, "invalid_json")

    def test_oversized_body_that_is_not_json_is_413(self, api: InProcessApi, user_id: str) -> None:
        assert_error(api.post(tasks_path(user_id), body="{" * (MAX_BODY + 1)), 413, "payload_too_large")


# --- path parameters -------------------------------------------------------------------------


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


# --- order of checks -------------------------------------------------------------------------


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


# --- GET /users/{user_id}/tasks --------------------------------------------------------------


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


# --- GET /users/{user_id}/tasks/{task_id} ----------------------------------------------------


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


# --- PUT and PATCH /users/{user_id}/tasks/{task_id} ------------------------------------------


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


# --- DELETE /users/{user_id}/tasks/{task_id} -------------------------------------------------


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


# --- GET /health and errors in general -------------------------------------------------------


def test_health(api: InProcessApi) -> None:
    response = api.get("/health")
    assert response.status == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_request_id_is_the_api_gateway_request_id(api: InProcessApi, user_id: str) -> None:
    function = api.router.match("GET", f"/users/{user_id}/tasks/1")
    assert function is not None
    from local.events import build_event, to_http_response

    event = build_event(method="GET", raw_path=f"/users/{user_id}/tasks/1", match=function, request_id="req-abc-123")
    response = to_http_response(api.invoke(function.route.function, event))
    assert assert_error(response, 404, "not_found")["request_id"] == "req-abc-123"
