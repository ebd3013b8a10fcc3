"""TaskResolver answers routes itself (tasks_core/resolver.py): it must match exactly the paths
Powertools' own resolver matches, with the same values, and return the same payload 2.0 shape.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import unquote

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse

from local.emulator.context import LambdaContext
from tasks_core.params import Path
from tasks_core.resolver import TaskResolver
from tasks_core.responses import JSON, Response, json_response
from tasks_core.settings import AuthSettings

RULE = "/users/<user_id>/tasks/<task_id>"
PATHS = [
    "/users/u/tasks/1",
    "/users/user-123/tasks/42",
    "/users/john.doe+tasks@example.com/tasks/7",
    "/users/auth0|5f7c8ec7/tasks/7",
    "/users/a%2Fb/tasks/1",
    "/users/caf%C3%A9/tasks/1",
    "/users/café/tasks/1",
    "/users/sp ace/tasks/1",
    "/users/semi;colon/tasks/(1)",
    "/users/q'uote/tasks/[1]",
    '/users/"dq"/tasks/1',
    "/users/back`tick/tasks/1",
    "/users/hash#/tasks/1",
    "/users/que?ry/tasks/1",
    "/users/back\\slash/tasks/1",
    "/users/u/tasks/1/",
    "/users/u/tasks/",
    "/users//tasks/1",
    "/users/u/tasks/1/extra",
    "//users/u/tasks/1",
    "/Users/u/tasks/1",
    "/users/u/tasks",
    "/",
    "",
]
# Neither resolver reads the context; Powertools' signature wants its own protocol type.
CONTEXT: Any = LambdaContext("Fn", 128, 3)


def _event(method: str, raw_path: str, stage: str = "$default") -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": method, "path": raw_path}, "requestId": "r", "stage": stage},
        "isBase64Encoded": False,
    }


def _ours() -> TaskResolver:
    resolver = TaskResolver(auth_settings=AuthSettings)

    @resolver.get(RULE)
    def echo(user_id: Annotated[str, Path()], task_id: Annotated[str, Path()]) -> Response:
        return json_response(200, json.dumps({"user_id": user_id, "task_id": task_id}), {"X-Echo": "1"})

    return resolver


def _powertools() -> APIGatewayHttpResolver:
    resolver = APIGatewayHttpResolver()

    @resolver.get(RULE)
    def echo(user_id: str, task_id: str) -> PowertoolsResponse[str]:
        # Powertools passes the raw (percent-encoded) segment; ours decodes it, as API Gateway does.
        body = {"user_id": unquote(user_id, errors="replace"), "task_id": unquote(task_id, errors="replace")}
        return PowertoolsResponse(200, JSON, json.dumps(body), {"X-Echo": "1"})

    return resolver


@pytest.mark.parametrize("stage", ["$default", "v1"])
@pytest.mark.parametrize("path", PATHS)
def test_the_same_paths_match_as_with_powertools_with_the_same_values(path: str, stage: str) -> None:
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    ours = _ours().resolve(_event("GET", raw_path, stage), CONTEXT)
    theirs = _powertools().resolve(_event("GET", raw_path, stage), CONTEXT)
    assert ours["statusCode"] == theirs["statusCode"]
    if theirs["statusCode"] == 200:
        assert ours == theirs
    else:
        assert ours["statusCode"] == 404
        assert json.loads(ours["body"]) == {"message": "Not Found"}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get"])
def test_another_method_on_a_declared_path_is_not_found_as_with_powertools(method: str) -> None:
    ours = _ours().resolve(_event(method, "/users/u/tasks/1"), CONTEXT)
    theirs = _powertools().resolve(_event(method, "/users/u/tasks/1"), CONTEXT)
    assert ours["statusCode"] == theirs["statusCode"]


def test_the_response_has_powertools_payload_2_shape() -> None:
    ours = _ours().resolve(_event("GET", "/users/u/tasks/1"), CONTEXT)
    theirs = _powertools().resolve(_event("GET", "/users/u/tasks/1"), CONTEXT)
    assert ours == theirs
    assert ours == {
        "statusCode": 200,
        "body": '{"user_id": "u", "task_id": "1"}',
        "isBase64Encoded": False,
        "headers": {"X-Echo": "1", "Content-Type": "application/json"},
        "cookies": [],
    }


def test_an_event_without_a_request_context_is_not_found_rather_than_a_crash() -> None:
    result = _ours().resolve({"rawPath": "/users/u/tasks/1"}, CONTEXT)
    assert result["statusCode"] == 404
