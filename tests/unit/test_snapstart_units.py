"""SnapStart's pieces that need no process or database: the warm-up's requests, the routes a
resolver records for it, a SnapStart worker's environment, and the snapshot process's framing."""

from __future__ import annotations

import json

from local.emulator.loader import load_module
from local.emulator.protocol import decode_frames, encode
from local.emulator.variables import lambda_environment
from local.template import PROJECT_ROOT, load_functions
from tasks_core.snapstart import WARM_UP_BODY, warm_up_events

FIXTURE_TEMPLATE = PROJECT_ROOT / "tests" / "e2e" / "fixtures" / "snapstart" / "template.yaml"


def test_each_resolver_records_its_routes_for_the_warm_up() -> None:
    functions = load_functions(parameters={"DatabaseUrl": "postgresql://db"})
    update = load_module(functions["UpdateTaskFunction"]).app
    assert update.route_keys == [
        ("PUT", "/users/<user_id>/tasks/<task_id>"),
        ("PATCH", "/users/<user_id>/tasks/<task_id>"),
    ]
    assert load_module(functions["HealthFunction"]).app.route_keys == [("GET", "/health")]


def test_a_warm_up_request_is_a_valid_http_api_event_for_its_route() -> None:
    [event] = warm_up_events([("PATCH", "/users/<user_id>/tasks/<task_id>")], user_id_claim="username")
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "PATCH /users/{user_id}/tasks/{task_id}"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/users/1/tasks/1"
    assert event["pathParameters"] == {"user_id": "1", "task_id": "1"}
    assert event["requestContext"]["http"]["method"] == "PATCH"
    assert json.loads(event["body"]) == json.loads(WARM_UP_BODY)
    # With the JWT authorizer on, the token's user is the path's.
    assert event["requestContext"]["authorizer"]["jwt"]["claims"] == {"username": "1"}


def test_a_warm_up_request_without_a_body_has_none() -> None:
    events = warm_up_events([("GET", "/users/<user_id>/tasks"), ("DELETE", "/users/<user_id>/tasks/<task_id>")])
    assert all("body" not in event for event in events)
    assert [event["rawPath"] for event in events] == ["/users/1/tasks", "/users/1/tasks/1"]


def test_a_snapstart_worker_has_lambdas_snapstart_environment() -> None:
    functions = load_functions(FIXTURE_TEMPLATE)
    snap = lambda_environment(functions["ProbeFunction"])
    assert snap["AWS_LAMBDA_INITIALIZATION_TYPE"] == "snap-start"
    assert "AWS_LAMBDA_LOG_GROUP_NAME" not in snap  # not available to SnapStart functions
    assert "AWS_LAMBDA_LOG_STREAM_NAME" not in snap
    plain = lambda_environment(load_functions(FIXTURE_TEMPLATE, parameters={"SnapStart": "None"})["ProbeFunction"])
    assert plain["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert plain["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/ProbeFunction"


def test_control_messages_are_read_whole_however_they_arrive() -> None:
    stream = encode({"fork": True}) + encode({"kill": 42}) + encode({"exited": 7, "returncode": -9})
    messages, rest = decode_frames(stream[:-3])
    assert messages == [{"fork": True}, {"kill": 42}]
    assert rest == stream[len(encode({"fork": True})) + len(encode({"kill": 42})) : -3]
    messages, rest = decode_frames(rest + stream[-3:])
    assert messages == [{"exited": 7, "returncode": -9}]
    assert rest == b""
