"""Typed errors become the contract's status, headers and body in one place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.emulator.context import LambdaContext
from local.gateway.payload import Router, build_event
from local.template import Route
from tasks_core.errors import (
    DatabaseUnavailable,
    FieldError,
    Forbidden,
    InvalidJson,
    PayloadTooLarge,
    TaskNotFound,
    ValidationFailed,
)
from tasks_core.field_errors import field_errors
from tasks_core.resolver import TaskResolver
from tasks_core.responses import Response, error_response


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ValidationFailed([FieldError("title", "must not be empty")]), 400, "validation_error"),
        (InvalidJson(), 400, "invalid_json"),
        (Forbidden(), 403, "forbidden"),
        (TaskNotFound(), 404, "not_found"),
        (PayloadTooLarge(65536), 413, "payload_too_large"),
        (DatabaseUnavailable(retry_after_s=7), 503, "database_unavailable"),
    ],
)
def test_each_error_has_its_status_code_and_body(error: Any, status: int, code: str) -> None:
    response = error_response(error, "req-1")
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(str(response.body))
    assert body["code"] == code
    assert body["request_id"] == "req-1"
    assert body["detail"]
    assert ("errors" in body) == (code == "validation_error")


def test_validation_detail_reads_like_fastapi() -> None:
    error = ValidationFailed([FieldError("title", "must not be empty"), FieldError("completed", "must be a boolean")])
    body = error.body("r")
    assert body["detail"] == "title must not be empty"
    assert body["errors"] == [
        {"field": "title", "message": "must not be empty"},
        {"field": "completed", "message": "must be a boolean"},
    ]


def test_validation_failed_needs_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ValidationFailed([])


def test_503_carries_retry_after() -> None:
    assert error_response(DatabaseUnavailable(retry_after_s=5), "r").headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"loc": ("body", "title"), "type": "missing"}, FieldError("title", "is required")),
        (
            {"loc": ("path", "user_id"), "type": "string_too_long", "ctx": {"max_length": 128}},
            FieldError("user_id", "must be at most 128 characters"),
        ),
        (
            {"loc": ("query", "limit"), "type": "less_than_equal", "ctx": {"le": 200}},
            FieldError("limit", "must be at most 200"),
        ),
        (
            {"loc": ("body", "title"), "type": "value_error", "ctx": {"error": ValueError("must not be empty")}},
            FieldError("title", "must not be empty"),
        ),
        ({"loc": ("body",), "type": "model_attributes_type"}, FieldError("body", "must be a JSON object")),
        (
            {"loc": ("body", "a", 0), "type": "something_new", "msg": "Something odd"},
            FieldError("a.0", "something odd"),
        ),
    ],
)
def test_field_errors_from_pydantic(error: dict[str, Any], expected: FieldError) -> None:
    assert field_errors([error]) == [expected]


def invoke(resolver: TaskResolver, method: str, path: str) -> dict[str, Any]:
    match = Router([Route(method, path, "Fn", "Event")]).match(method, path)
    event = build_event(method=method, raw_path=path, match=match, request_id="req-42")
    result: dict[str, Any] = resolver.resolve(event, LambdaContext("Fn", 128, 3))
    return result


def test_unexpected_exception_is_a_500_that_tells_nothing() -> None:
    resolver = TaskResolver()

    @resolver.get("/boom")
    def boom() -> Response:
        raise RuntimeError("SELECT secret FROM internals; password=hunter2")

    result = invoke(resolver, "GET", "/boom")
    assert result["statusCode"] == 500
    body = json.loads(result["body"])
    assert body == {"detail": "internal server error", "code": "internal_error", "request_id": "req-42"}


def test_api_error_raised_in_a_route_is_mapped() -> None:
    resolver = TaskResolver()

    @resolver.get("/gone")
    def gone() -> Response:
        raise TaskNotFound()

    result = invoke(resolver, "GET", "/gone")
    assert result["statusCode"] == 404
    assert json.loads(result["body"])["code"] == "not_found"


def test_route_the_resolver_does_not_have_is_api_gateways_404() -> None:
    resolver = TaskResolver()
    result = invoke(resolver, "GET", "/elsewhere")
    assert result["statusCode"] == 404
    assert json.loads(result["body"]) == {"message": "Not Found"}
