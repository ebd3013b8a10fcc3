"""Idempotency-Key on create (API.md, "Retries and concurrent edits"), through the handlers."""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg
import pytest

from local.gateway.payload import HttpResponse
from tests.support.api import InProcessApi
from tests.support.contract import assert_error, assert_task, tasks_path


def post(api: InProcessApi, user_id: str, body: Any, key: str | None = None, **headers: str) -> HttpResponse:
    if key is not None:
        headers["idempotency-key"] = key
    text = body if isinstance(body, str) else json.dumps(body)
    return api.post(tasks_path(user_id), body=text, headers=headers)


def listed(api: InProcessApi, user_id: str) -> list[dict[str, Any]]:
    response = api.get(tasks_path(user_id))
    assert response.status == 200
    tasks: list[dict[str, Any]] = response.json()
    return tasks


def assert_key_refused(api: InProcessApi, user_id: str, key: str) -> None:
    response = post(api, user_id, {"title": "t"}, key)
    body = assert_error(response, 400, "validation_error", field="Idempotency-Key")
    assert "visible ASCII" in body["detail"]
    assert listed(api, user_id) == []


# Characters an HTTP server may refuse before any function runs (the local gateway and API
# Gateway both do): through the handlers only.
@pytest.mark.parametrize("key", ["del\x7f", "nul\x00"], ids=["DEL", "NUL"])
def test_control_characters_in_a_key_are_400(api: InProcessApi, user_id: str, key: str) -> None:
    assert_key_refused(api, user_id, key)


class TestKeySyntax:
    @pytest.mark.parametrize(
        "key", ["", "has space", "x" * 256, "caf\u00e9", "tab\there"], ids=["empty", "space", "256", "non-ASCII", "tab"]
    )
    def test_a_key_outside_the_rules_is_400(self, api: InProcessApi, user_id: str, key: str) -> None:
        assert_key_refused(api, user_id, key)

    @pytest.mark.parametrize("key", ["a", "x" * 255, "!~\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"])
    def test_keys_of_1_to_255_visible_characters_are_taken(self, api: InProcessApi, user_id: str, key: str) -> None:
        assert post(api, user_id, {"title": "t"}, key).status == 201

    def test_path_parameters_are_checked_first(self, api: InProcessApi) -> None:
        response = post(api, "bad%20user", {"title": "t"}, "has space")
        assert_error(response, 400, "validation_error", field="user_id")

    def test_the_key_is_checked_before_the_body(self, api: InProcessApi, user_id: str) -> None:
        response = post(api, user_id, "not json", "has space")
        assert_error(response, 400, "validation_error", field="Idempotency-Key")


class TestReplay:
    def test_same_key_and_request_answers_the_stored_201_byte_for_byte(self, api: InProcessApi, user_id: str) -> None:
        first = post(api, user_id, {"title": "Buy milk", "description": "2 litres"}, "k1")
        assert first.status == 201
        assert first.header("idempotent-replayed") is None
        again = post(api, user_id, {"title": "Buy milk", "description": "2 litres"}, "k1")
        assert again.status == 201
        assert again.header("idempotent-replayed") == "true"
        assert again.body == first.body
        assert again.header("location") == first.header("location")
        assert again.header("etag") == first.header("etag")
        assert again.header("content-type") == "application/json"
        assert [task["id"] for task in listed(api, user_id)] == [first.json()["id"]]

    @pytest.mark.parametrize(
        "retry",
        [
            '{"description":"2 litres","title":"Buy milk"}',
            '{\n  "title": "  Buy milk\\u3000",\n  "description": "2 litres"\n}',
            '{"title": "Buy milk", "description": "2 litres", "completed": false}',
        ],
        ids=["other order, no spaces", "white space the title loses", "the default given"],
    )
    def test_the_same_request_whatever_its_formatting(self, api: InProcessApi, user_id: str, retry: str) -> None:
        first = post(api, user_id, {"title": "Buy milk", "description": "2 litres"}, "k")
        again = post(api, user_id, retry, "k")
        assert again.status == 201
        assert again.header("idempotent-replayed") == "true"
        assert again.body == first.body

    def test_replay_after_the_task_changed_or_was_deleted(self, api: InProcessApi, user_id: str) -> None:
        first = post(api, user_id, {"title": "original"}, "k")
        location = first.header("location")
        assert location is not None
        assert api.patch(location, {"title": "changed"}).status == 200
        assert post(api, user_id, {"title": "original"}, "k").body == first.body
        assert api.delete(location).status == 200
        replay = post(api, user_id, {"title": "original"}, "k")
        assert replay.status == 201
        assert replay.body == first.body
        assert replay.header("idempotent-replayed") == "true"
        assert listed(api, user_id) == []  # the replay does not bring the task back

    def test_keys_are_scoped_to_the_user(self, api: InProcessApi, user_id: str, other_user_id: str) -> None:
        mine = post(api, user_id, {"title": "t"}, "shared-key")
        theirs = post(api, other_user_id, {"title": "t"}, "shared-key")
        assert theirs.status == 201
        assert theirs.header("idempotent-replayed") is None
        assert theirs.json()["id"] != mine.json()["id"]
        assert_task(theirs.json(), user_id=other_user_id)

    def test_without_a_key_every_create_is_a_new_task(self, api: InProcessApi, user_id: str) -> None:
        assert post(api, user_id, {"title": "t"}).json()["id"] != post(api, user_id, {"title": "t"}).json()["id"]


class TestReuse:
    @pytest.mark.parametrize(
        "other",
        [{"title": "other"}, {"title": "t", "completed": True}, {"title": "t", "description": ""}],
        ids=["title", "completed", "description"],
    )
    def test_same_key_for_another_request_is_422(self, api: InProcessApi, user_id: str, other: Any) -> None:
        first = post(api, user_id, {"title": "t"}, "k")
        response = post(api, user_id, other, "k")
        assert_error(response, 422, "idempotency_key_reused")
        assert [task["id"] for task in listed(api, user_id)] == [first.json()["id"]]

    def test_a_failed_request_stores_nothing(self, api: InProcessApi, user_id: str) -> None:
        assert_error(post(api, user_id, {"title": ""}, "k"), 400, "validation_error")
        assert_error(post(api, user_id, "{", "k"), 400, "invalid_json")
        corrected = post(api, user_id, {"title": "corrected"}, "k")
        assert corrected.status == 201
        assert corrected.header("idempotent-replayed") is None
        assert_task(corrected.json(), title="corrected")


# With the session's database at hand: through the handlers only.


def test_an_expired_key_never_blocks_a_request(api: InProcessApi, database_url: str, user_id: str) -> None:
    first = post(api, user_id, {"title": "first"}, "k")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE user_id = %s", (user_id,)
        )
    reused = post(api, user_id, {"title": "another request"}, "k")
    assert reused.status == 201
    assert reused.header("idempotent-replayed") is None
    assert reused.json()["id"] != first.json()["id"]
    assert post(api, user_id, {"title": "another request"}, "k").body == reused.body


def test_the_key_is_kept_24_hours_by_default(api: InProcessApi, database_url: str, user_id: str) -> None:
    post(api, user_id, {"title": "t"}, "k")
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM expires_at - created_at) FROM idempotency_keys WHERE user_id = %s",
            (user_id,),
        ).fetchone()
    assert row is not None
    assert float(row[0]) == 24 * 3600


def test_a_duplicate_of_a_request_in_flight_is_409_with_retry_after(
    api: InProcessApi, database_url: str, user_id: str
) -> None:
    # Another request holds the key: its statement has inserted it and not committed yet.
    holding = threading.Event()
    release = threading.Event()

    def hold_the_key() -> None:
        with psycopg.connect(database_url) as conn:  # not autocommit: one open transaction
            conn.execute(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, task_id, etag, body, expires_at)"
                " VALUES (%s, 'k', 'f', 0, '\"0\"', '{}', now() + interval '1 hour')",
                (user_id,),
            )
            holding.set()
            release.wait(30)
            conn.rollback()  # the request in flight fails

    holder = threading.Thread(target=hold_the_key)
    holder.start()
    try:
        assert holding.wait(10)
        response = post(api, user_id, {"title": "t"}, "k")  # waits lock_timeout (3 s), then gives up
    finally:
        release.set()
        holder.join()
    assert_error(response, 409, "idempotency_key_in_flight")
    assert response.header("retry-after") == "1"
    assert listed(api, user_id) == []
    # The first request failed and stored nothing: the retry proceeds.
    assert post(api, user_id, {"title": "t"}, "k").status == 201
