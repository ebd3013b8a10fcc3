"""What each route documents in OpenAPI: its success with headers, and the errors it can give."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .models import ErrorBody
from .request_body import MAX_BODY_BYTES
from .responses import JSON

if TYPE_CHECKING:
    # Types only: importing Powertools' event handler costs every cold start (params.py).
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

ERROR_DESCRIPTIONS = {
    400: "A path parameter, header, query value or body field breaks a rule, or the body is not a JSON object",
    403: "Authorization is on and the token is for another user",
    404: "No such task for this user",
    409: "A request with the same Idempotency-Key is still running; retry after Retry-After seconds",
    412: "If-Match does not match the task's current ETag: it changed since it was read",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes ({MAX_BODY_BYTES // 1024} KiB)",
    422: "The Idempotency-Key was already used for a different request",
    500: "Unexpected error",
    503: "The database cannot be reached or timed out; retry after Retry-After seconds",
}
_RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}

ETAG = {"ETag": "Strong entity tag of the task; changes whenever the task does"}
LOCATION = {"Location": "Path of the new task"}
REPLAYED = {"Idempotent-Replayed": "`true` when this is the stored answer to an earlier request with the same key"}
LINK = {"Link": 'The next page, rel="next" (absent on the last page)'}


def openapi_responses(
    status: int,
    description: str,
    model: Any,
    errors: Iterable[int],
    *,
    headers: Mapping[str, str] | None = None,
    not_modified: bool = False,
) -> dict[int, OpenAPIResponse]:
    """OpenAPI `responses` of a route: its success, its errors, and 500 which any route may give.

    Routes return a `Response` (JSON text made by PostgreSQL), so the success schema is declared
    here rather than inferred from the return annotation.
    """
    success: OpenAPIResponse = {"description": description, "content": {JSON: {"model": model}}}
    if headers:
        success["headers"] = _headers(headers)
    responses = {status: success}
    if not_modified:
        responses[304] = {"description": "If-None-Match names the current ETag: no body", "headers": _headers(ETAG)}
    for code in sorted({*errors, 500}):
        error: OpenAPIResponse = {"description": ERROR_DESCRIPTIONS[code], "content": {JSON: {"model": ErrorBody}}}
        if code in (409, 503):
            error["headers"] = dict(_RETRY_AFTER)
        responses[code] = error
    return responses


def _headers(headers: Mapping[str, str]) -> dict[str, OpenAPIResponseHeader]:
    return {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
