"""POST /users/{user_id}/tasks: every rule of API.md for a create.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.api import InProcessApi
from tests.support.contract import MAX_BODY, assert_error, assert_task, create, tasks_path


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
