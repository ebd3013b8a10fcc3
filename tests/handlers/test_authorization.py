"""With the JWT authorizer on, every task function checks that the token's user claim is the
path's user_id: 403 otherwise. /health needs no token."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.support.fresh_process import invoke_in_fresh_process, load_event


def with_claims(event: dict[str, Any], claims: dict[str, Any] | None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


@pytest.fixture(scope="module")
def outcomes(database_url: str) -> dict[str, dict[str, Any]]:
    """Every case run in one fresh process with authorization on (settings are read once)."""
    me = {"sub": "user-123", "iss": "https://issuer.example", "aud": "tasks"}
    someone_else = {**me, "sub": "user-456"}
    bad_body = copy.deepcopy(load_event("create_task.json"))
    bad_body["body"] = "not json"
    bad_path = load_event("error_create_task_bad_user_id.json")
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "own_create": ("CreateTaskFunction", with_claims(load_event("create_task.json"), me)),
        "own_list": ("ListTasksFunction", with_claims(load_event("list_tasks.json"), me)),
        "other_create": ("CreateTaskFunction", with_claims(load_event("create_task.json"), someone_else)),
        "other_list": ("ListTasksFunction", with_claims(load_event("list_tasks.json"), someone_else)),
        "other_get": ("GetTaskFunction", with_claims(load_event("get_task.json"), someone_else)),
        "other_update": ("UpdateTaskFunction", with_claims(load_event("update_task_put.json"), someone_else)),
        "other_delete": ("DeleteTaskFunction", with_claims(load_event("delete_task.json"), someone_else)),
        "no_claims": ("ListTasksFunction", with_claims(load_event("list_tasks.json"), None)),
        "claim_missing": ("ListTasksFunction", with_claims(load_event("list_tasks.json"), {"email": "x@y"})),
        "forbidden_before_body": ("CreateTaskFunction", with_claims(bad_body, someone_else)),
        "path_before_forbidden": ("CreateTaskFunction", with_claims(bad_path, someone_else)),
        "health_without_token": ("HealthFunction", load_event("health.json")),
    }
    results = invoke_in_fresh_process(list(cases.values()), {"DATABASE_URL": database_url, "AUTH_ENABLED": "true"})
    return {name: result["response"] for name, result in zip(cases, results, strict=True)}


def status_and_code(response: dict[str, Any]) -> tuple[int, str | None]:
    body = json.loads(response["body"])
    return response["statusCode"], body.get("code") if isinstance(body, dict) else None


@pytest.mark.parametrize(("case", "status"), [("own_create", 201), ("own_list", 200), ("health_without_token", 200)])
def test_allowed(outcomes: dict[str, dict[str, Any]], case: str, status: int) -> None:
    assert outcomes[case]["statusCode"] == status, outcomes[case]["body"]


@pytest.mark.parametrize(
    "case",
    [
        "other_create",
        "other_list",
        "other_get",
        "other_update",
        "other_delete",
        "no_claims",
        "claim_missing",
        "forbidden_before_body",
    ],
)
def test_forbidden(outcomes: dict[str, dict[str, Any]], case: str) -> None:
    assert status_and_code(outcomes[case]) == (403, "forbidden")
    assert outcomes[case]["headers"]["Content-Type"] == "application/json"


def test_path_parameters_are_checked_first(outcomes: dict[str, dict[str, Any]]) -> None:
    assert status_and_code(outcomes["path_before_forbidden"]) == (400, "validation_error")


def test_claim_name_is_configurable(database_url: str) -> None:
    event = with_claims(load_event("list_tasks.json"), {"sub": "someone", "custom:user_id": "user-123"})
    env = {"DATABASE_URL": database_url, "AUTH_ENABLED": "true", "AUTH_USER_ID_CLAIM": "custom:user_id"}
    [result] = invoke_in_fresh_process([("ListTasksFunction", event)], env)
    assert result["response"]["statusCode"] == 200


def test_authorization_off_trusts_the_path(database_url: str) -> None:
    event = with_claims(load_event("list_tasks.json"), {"sub": "someone-else"})
    [result] = invoke_in_fresh_process([("ListTasksFunction", event)], {"DATABASE_URL": database_url})
    assert result["response"]["statusCode"] == 200
