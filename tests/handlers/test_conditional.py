"""ETags and conditional requests (API.md, "Retries and concurrent edits"), through the handlers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local.gateway.payload import HttpResponse
from tests.support.api import InProcessApi
from tests.support.contract import assert_error, tasks_path

STRONG_TAG = re.compile(r'^"[\x21\x23-\x7e]+"$')


def created(api: InProcessApi, user_id: str, **fields: Any) -> tuple[str, HttpResponse]:
    response = api.post(tasks_path(user_id), {"title": "a task", **fields})
    assert response.status == 201
    location = response.header("location")
    assert location is not None
    return location, response


def etag(response: HttpResponse) -> str:
    tag = response.header("etag")
    assert tag is not None
    assert STRONG_TAG.match(tag), tag
    return tag


class TestETag:
    def test_every_single_task_response_has_the_same_strong_tag(self, api: InProcessApi, user_id: str) -> None:
        location, response = created(api, user_id)
        tag = etag(response)
        assert etag(api.get(location)) == tag
        assert api.get(f"/users/{user_id}/tasks").header("etag") is None  # a list is not one task

    @pytest.mark.parametrize(
        "change", [{"title": "new"}, {"completed": False}, {"description": None}], ids=["title", "same value", "null"]
    )
    def test_every_update_that_sets_a_field_changes_it(
        self, api: InProcessApi, user_id: str, change: dict[str, Any]
    ) -> None:
        location, response = created(api, user_id)
        updated = api.patch(location, change)
        assert updated.status == 200
        assert etag(updated) != etag(response)
        assert etag(api.get(location)) == etag(updated)

    def test_an_empty_update_keeps_it(self, api: InProcessApi, user_id: str) -> None:
        location, response = created(api, user_id)
        assert etag(api.put(location, {})) == etag(response)

    def test_tasks_with_the_same_content_have_their_own_tags_over_time(self, api: InProcessApi, user_id: str) -> None:
        location, first = created(api, user_id)
        tags = {etag(first)}
        for title in ("b", "a task", "b"):
            tags.add(etag(api.patch(location, {"title": title})))
        assert len(tags) == 4  # back to an earlier content is still a new version


class TestIfNoneMatch:
    @pytest.mark.parametrize("header", ["{tag}", "W/{tag}", '"other", {tag}', "*", ' {tag} , "x"'], ids=str)
    def test_a_match_is_304_with_the_tag_and_no_body(self, api: InProcessApi, user_id: str, header: str) -> None:
        location, response = created(api, user_id)
        tag = etag(response)
        cached = api.get(location, headers={"if-none-match": header.format(tag=tag)})
        assert cached.status == 304
        assert cached.body == b""
        assert cached.header("etag") == tag

    @pytest.mark.parametrize("header", ['"stale"', 'W/"stale"', "{bare}", "garbage"], ids=str)
    def test_no_match_is_the_full_answer(self, api: InProcessApi, user_id: str, header: str) -> None:
        location, response = created(api, user_id)
        bare = etag(response).strip('"')
        answer = api.get(location, headers={"if-none-match": header.format(bare=bare)})
        assert answer.status == 200
        assert answer.json()["title"] == "a task"

    def test_a_stale_copy_gets_the_new_version(self, api: InProcessApi, user_id: str) -> None:
        location, response = created(api, user_id)
        updated = api.patch(location, {"title": "new"})
        answer = api.get(location, headers={"if-none-match": etag(response)})
        assert answer.status == 200
        assert answer.body == updated.body

    def test_missing_and_foreign_tasks_stay_404(self, api: InProcessApi, user_id: str, other_user_id: str) -> None:
        location, response = created(api, other_user_id)
        foreign = location.replace(other_user_id, user_id)
        for header in ("*", etag(response)):
            assert_error(api.get(foreign, headers={"if-none-match": header}), 404, "not_found")
            assert_error(
                api.get(f"/users/{user_id}/tasks/999999999999", headers={"if-none-match": header}), 404, "not_found"
            )


class TestIfMatch:
    @pytest.mark.parametrize("method", ["PUT", "PATCH"])
    @pytest.mark.parametrize("header", ["{tag}", '"other", {tag}', "*"], ids=str)
    def test_a_current_tag_lets_the_update_through(
        self, api: InProcessApi, user_id: str, method: str, header: str
    ) -> None:
        location, response = created(api, user_id)
        answer = api.request(
            method, location, json_body={"completed": True}, headers={"if-match": header.format(tag=etag(response))}
        )
        assert answer.status == 200
        assert answer.json()["completed"] is True

    @pytest.mark.parametrize("method", ["PUT", "PATCH"])
    @pytest.mark.parametrize("header", ['"stale"', "W/{tag}", "{bare}", ""], ids=str)
    def test_a_stale_or_weak_tag_is_412_and_nothing_changes(
        self, api: InProcessApi, user_id: str, method: str, header: str
    ) -> None:
        location, response = created(api, user_id)
        tag = etag(response)
        answer = api.request(
            method,
            location,
            json_body={"title": "lost"},
            headers={"if-match": header.format(tag=tag, bare=tag.strip('"'))},
        )
        assert_error(answer, 412, "precondition_failed")
        current = api.get(location)
        assert current.body == response.body  # title and updated_at as they were
        assert etag(current) == tag

    def test_an_empty_update_checks_the_tag_too(self, api: InProcessApi, user_id: str) -> None:
        location, response = created(api, user_id)
        assert_error(api.patch(location, {}, headers={"if-match": '"stale"'}), 412, "precondition_failed")
        unchanged = api.patch(location, {}, headers={"if-match": etag(response)})
        assert unchanged.status == 200
        assert unchanged.body == response.body

    def test_a_lost_update_is_refused(self, api: InProcessApi, user_id: str) -> None:
        # Two clients read version 1; the first writes; the second's write must not overwrite it.
        location, response = created(api, user_id)
        version_1 = etag(response)
        first = api.patch(location, {"title": "first"}, headers={"if-match": version_1})
        assert first.status == 200
        assert_error(
            api.patch(location, {"title": "second"}, headers={"if-match": version_1}), 412, "precondition_failed"
        )
        assert api.patch(location, {"title": "second"}, headers={"if-match": etag(first)}).status == 200

    def test_delete_with_a_stale_tag_is_412_and_keeps_the_task(self, api: InProcessApi, user_id: str) -> None:
        location, response = created(api, user_id)
        api.patch(location, {"title": "changed"})
        assert_error(api.delete(location, headers={"if-match": etag(response)}), 412, "precondition_failed")
        current = api.get(location)
        assert current.status == 200
        assert api.delete(location, headers={"if-match": etag(current)}).status == 200
        assert_error(api.get(location), 404, "not_found")

    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
    def test_missing_and_foreign_tasks_stay_404(
        self, api: InProcessApi, user_id: str, other_user_id: str, method: str
    ) -> None:
        location, response = created(api, other_user_id)
        foreign = location.replace(other_user_id, user_id)
        body = None if method == "DELETE" else {"title": "x"}
        for header in ("*", etag(response), '"stale"'):
            assert_error(api.request(method, foreign, json_body=body, headers={"if-match": header}), 404, "not_found")
        assert api.get(location).body == response.body

    def test_the_body_is_checked_before_the_precondition(self, api: InProcessApi, user_id: str) -> None:
        location, _ = created(api, user_id)
        assert_error(api.patch(location, {"title": ""}, headers={"if-match": '"stale"'}), 400, "validation_error")
