"""Every file in events/ is a valid payload 2.0 event for a route of the template, and gives
the outcome its name promises when invoked with that route's function; `schedule_*` files are
EventBridge scheduled events for the scheduled functions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from local.gateway.payload import to_http_response
from local.template import PROJECT_ROOT
from tests.support.api import InProcessApi
from tests.support.contract import assert_error, assert_task

EVENTS = sorted(path for path in (PROJECT_ROOT / "events").glob("*.json") if not path.stem.startswith("schedule_"))
SCHEDULED = {"schedule_purge_idempotency_keys": "PurgeIdempotencyKeysFunction"}
EXPECTED: dict[str, tuple[int, str | None]] = {
    "create_task": (201, None),
    "create_task_completed": (201, None),
    "create_task_idempotency_key": (201, None),
    "get_task_if_none_match": (304, None),
    "error_create_task_bad_idempotency_key": (400, "validation_error"),
    "error_update_task_stale_if_match": (412, "precondition_failed"),
    "error_delete_task_stale_if_match": (412, "precondition_failed"),
    "list_tasks": (200, None),
    "list_tasks_completed": (200, None),
    "get_task": (200, None),
    "update_task_put": (200, None),
    "update_task_patch": (200, None),
    "delete_task": (200, None),
    "health": (200, None),
    "error_create_task_invalid_json": (400, "invalid_json"),
    "error_create_task_validation": (400, "validation_error"),
    "error_create_task_unknown_field": (400, "validation_error"),
    "error_create_task_bad_user_id": (400, "validation_error"),
    "error_list_tasks_bad_limit": (400, "validation_error"),
    "error_list_tasks_bad_cursor": (400, "validation_error"),
    "error_get_task_bad_id": (400, "validation_error"),
    "error_get_task_not_found": (404, "not_found"),
    "error_update_task_null_title": (400, "validation_error"),
    "error_delete_task_other_user": (404, "not_found"),
}


def load(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def test_every_event_file_has_an_expectation() -> None:
    assert {path.stem for path in EVENTS} == set(EXPECTED)
    scheduled = {path.stem for path in (PROJECT_ROOT / "events").glob("schedule_*.json")}
    assert scheduled == set(SCHEDULED)


@pytest.mark.parametrize("path", EVENTS, ids=lambda path: path.stem)
def test_event_is_for_a_route_of_the_template(api: InProcessApi, path: Path) -> None:
    event = load(path)
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"]
    method = event["requestContext"]["http"]["method"]
    match = api.router.match(method, event["rawPath"])
    assert match is not None, f"no route of template.yaml serves {method} {event['rawPath']}"
    assert match.route.route_key == event["routeKey"]
    assert event.get("pathParameters", {}) == match.path_parameters
    assert all(name == name.lower() for name in event["headers"])


def with_task_id(event: dict[str, Any], task_id: int) -> dict[str, Any]:
    """The event for task `task_id` instead of the task 1 the file names."""
    event = copy.deepcopy(event)
    old = f"/tasks/{event['pathParameters']['task_id']}"
    event["rawPath"] = event["rawPath"].replace(old, f"/tasks/{task_id}")
    event["requestContext"]["http"]["path"] = event["rawPath"]
    event["pathParameters"]["task_id"] = str(task_id)
    return event


@pytest.mark.parametrize("path", EVENTS, ids=lambda path: path.stem)
def test_event_gives_its_outcome(api: InProcessApi, path: Path) -> None:
    event = load(path)
    function = api.router.match(event["requestContext"]["http"]["method"], event["rawPath"])
    assert function is not None
    task_id = event.get("pathParameters", {}).get("task_id")
    if task_id == "1":
        # The files name task 1 of user-123 (the first task of a new database); here the
        # database is shared, so a task is created with create_task.json and used instead.
        created = to_http_response(api.invoke("CreateTaskFunction", load(PROJECT_ROOT / "events/create_task.json")))
        event = with_task_id(event, created.json()["id"])
    response = to_http_response(api.invoke(function.route.function, event))
    status, code = EXPECTED[path.stem]
    if code is not None:
        body = assert_error(response, status, code)
        assert body["request_id"] == event["requestContext"]["requestId"]
        return
    assert response.status == status, response.body
    if status == 304:
        assert response.body == b""
        assert response.header("etag")
        return
    body = response.json()
    if isinstance(body, dict) and "id" in body:
        assert_task(body, user_id=event["pathParameters"]["user_id"])


@pytest.mark.parametrize(("name", "function"), sorted(SCHEDULED.items()))
def test_scheduled_event_runs_its_function(api: InProcessApi, name: str, function: str) -> None:
    event = load(PROJECT_ROOT / "events" / f"{name}.json")
    assert event["detail-type"] == "Scheduled Event"
    result = api.invoke(function, event)
    assert isinstance(result["purged"], int)
    assert result["purged"] >= 0
