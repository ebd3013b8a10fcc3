"""Responses: JSON text with the contract's headers, and the one way an error becomes one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .errors import ApiError
from .repository import TaskRecord

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Response:
    """What a route answers: a status, its headers and a text body (JSON, or empty)."""

    status_code: int
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(status: int, body: str | bytes, headers: Mapping[str, str] | None = None) -> Response:
    """A response whose body is already JSON text."""
    text = body.decode() if isinstance(body, bytes) else body
    return Response(status, text, {**(headers or {}), "Content-Type": JSON})


def error_response(error: ApiError, request_id: str) -> Response:
    """The one place an error becomes a status, headers and body."""
    return json_response(error.status, json.dumps(error.body(request_id)), error.headers())


def user_path(user_id: str) -> str:
    """`/users/{user_id}/tasks` with the id percent-encoded where RFC 3986 requires it."""
    return f"/users/{quote(user_id, safe='-._~@:+')}/tasks"


def task_response(status: int, task: TaskRecord, headers: Mapping[str, str] | None = None) -> Response:
    """One task: its JSON and its ETag."""
    return json_response(status, task.body, {"ETag": task.etag, **(headers or {})})


def not_modified(task: TaskRecord) -> Response:
    """304: the client's copy is current; the ETag and no body (RFC 9110, 15.4.5)."""
    return Response(304, "", {"ETag": task.etag})


def lambda_response(response: Response) -> dict[str, Any]:
    """What the function returns to API Gateway (payload 2.0): status, headers and a text body.

    The shape Powertools' resolver returns for an HTTP API (no cookies, never base64: every
    body here is JSON text or empty); tests/unit/test_routing.py compares the two.
    """
    return {
        "statusCode": response.status_code,
        "body": response.body,
        "isBase64Encoded": False,
        "headers": dict(response.headers),
        "cookies": [],
    }
