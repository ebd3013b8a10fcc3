"""Responses: JSON text with the contract's headers, and the one way an error becomes one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response

from .errors import ApiError
from .repository import TaskRecord

JSON = "application/json"


def json_response(status: int, body: str | bytes, headers: Mapping[str, str] | None = None) -> Response[str]:
    """A response whose body is already JSON text."""
    text = body.decode() if isinstance(body, bytes) else body
    return Response(status_code=status, content_type=JSON, body=text, headers=dict(headers or {}))


def error_response(error: ApiError, request_id: str) -> Response[str]:
    """The one place an error becomes a status, headers and body."""
    return json_response(error.status, json.dumps(error.body(request_id)), error.headers())


def user_path(user_id: str) -> str:
    """`/users/{user_id}/tasks` with the id percent-encoded where RFC 3986 requires it."""
    return f"/users/{quote(user_id, safe='-._~@:+')}/tasks"


def task_response(status: int, task: TaskRecord, headers: Mapping[str, str] | None = None) -> Response[str]:
    """One task: its JSON and its ETag."""
    return json_response(status, task.body, {"ETag": task.etag, **(headers or {})})


def not_modified(task: TaskRecord) -> Response[str]:
    """304: the client's copy is current; the ETag and no body (RFC 9110, 15.4.5)."""
    return Response(status_code=304, body="", headers={"ETag": task.etag})


def lambda_response(response: Response[str]) -> dict[str, Any]:
    """What the function returns to API Gateway (payload 2.0): status, headers and a text body.

    The shape Powertools' resolver returns for an HTTP API (no cookies, never base64: every
    body here is JSON text or empty).
    """
    return {
        "statusCode": response.status_code,
        "body": response.body or "",
        "isBase64Encoded": False,
        "headers": dict(response.headers),
        "cookies": [],
    }
