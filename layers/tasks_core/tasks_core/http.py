"""HTTP plumbing shared by the functions: the resolver, request checks in the contract's order,
the one mapping from errors to responses, and JSON responses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    _request_params_to_args,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from .errors import ApiError, FieldError, Forbidden, InternalError, InvalidJson, PayloadTooLarge, ValidationFailed
from .models import ErrorBody
from .observability import logger
from .settings import AuthSettings, get_settings

MAX_BODY_BYTES = 64 * 1024
JSON = "application/json"
_BODY_KEY = "tasks_core.json_body"
_LOCATIONS = ("body", "path", "query", "header", "cookie")


def read_json_object(event: BaseProxyEvent, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object; PayloadTooLarge or InvalidJson otherwise.

    The body is parsed whatever the Content-Type says (curl -d sends form-urlencoded), as
    strict JSON: UTF-8, no NaN or Infinity.
    """
    raw = event.body or ""
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError) as exc:
        raise InvalidJson() from exc
    if len(data) > max_bytes:
        raise PayloadTooLarge(max_bytes)
    try:
        text = data.decode("utf-8") if event.is_base64_encoded else raw
        value = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidJson() from exc
    except RecursionError as exc:  # 64 KiB of "[" nests deeper than the parser recurses
        raise InvalidJson("request body is nested too deeply") from exc
    if not isinstance(value, dict):
        raise InvalidJson()
    return value


def authorize(event: Mapping[str, Any], user_id: str, auth: AuthSettings) -> None:
    """With authorization on, the token's user claim must be the path's user: else Forbidden.

    API Gateway's JWT authorizer has verified the token (signature, issuer, audience, expiry)
    and passes its claims; a request without them is refused too.
    """
    if not auth.enabled:
        return
    context = event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    claim = claims.get(auth.user_id_claim)
    if claim is None or str(claim) != user_id:
        raise Forbidden()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed field",
    "string_type": "must be a string",
    "bool_type": "must be a boolean",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be a decimal integer",
    "int_parsing_size": "is too large",
    "string_unicode": "must not contain unpaired surrogates",
    "string_too_long": "must be at most {max_length} characters",
    "string_too_short": "must be at least {min_length} characters",
    "string_pattern_mismatch": "must be 1 to 128 of A-Z a-z 0-9 . _ ~ @ : + | -",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
}


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Pydantic/Powertools error dicts as the contract's `errors` entries."""
    result = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in _LOCATIONS and len(loc) > 1:
            loc = loc[1:]
        field = ".".join(loc) or "body"
        kind = error.get("type", "")
        ctx = error.get("ctx") or {}
        if kind == "value_error" and "error" in ctx:
            message = str(ctx["error"])
        elif kind in _MESSAGES:
            message = _MESSAGES[kind].format(**ctx)
        else:
            text = str(error.get("msg", "is invalid"))
            message = text[:1].lower() + text[1:]
        result.append(FieldError(field, message))
    return result


def json_response(status: int, body: str | bytes, headers: Mapping[str, str] | None = None) -> Response[Any]:
    """A response whose body is already JSON text."""
    text = body.decode() if isinstance(body, bytes) else body
    return Response(status_code=status, content_type=JSON, body=text, headers=dict(headers or {}))


def error_response(error: ApiError, request_id: str) -> Response[Any]:
    """The one place an error becomes a status, headers and body."""
    return json_response(error.status, json.dumps(error.body(request_id)), error.headers())


def user_path(user_id: str) -> str:
    """`/users/{user_id}/tasks` with the id percent-encoded where RFC 3986 requires it."""
    return f"/users/{quote(user_id, safe='-._~@:+')}/tasks"


class ContractRequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, in the order API.md sets: path parameters, body size,
    body JSON, then body fields and query values.
    """

    def __init__(self, auth_settings: Callable[[], AuthSettings]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self._auth_settings = auth_settings

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        route = app.context["_route"]
        # Powertools matches the raw (percent-encoded) path; API Gateway decodes parameters.
        app.context["_route_args"] = {
            name: unquote(value, errors="replace") for name, value in app.context["_route_args"].items()
        }
        path_values, path_errors = _request_params_to_args(route.dependant.path_params, app.context["_route_args"])
        if path_errors:
            raise RequestValidationError(path_errors)
        if "user_id" in path_values:
            authorize(app.current_event.raw_event, path_values["user_id"], self._auth_settings())
        if route.dependant.body_params:
            app.context[_BODY_KEY] = read_json_object(app.current_event)
        return super().handler(app, next_middleware)

    def _get_body(self, app: EventHandlerInstance) -> dict[str, Any]:
        body: dict[str, Any] = app.context[_BODY_KEY]
        return body


class TaskResolver(APIGatewayHttpResolver):
    """An HTTP API (payload 2.0) resolver with validation on and the contract's errors."""

    def __init__(self, auth_settings: Callable[[], AuthSettings] = lambda: get_settings().auth) -> None:
        super().__init__(enable_validation=True)
        # Settings are read on the first request, not at import: importing a handler reads nothing.
        self._request_validation_middleware = ContractRequestValidation(auth_settings)
        self.exception_handler(RequestValidationError)(self._validation_error)
        self.exception_handler(ApiError)(self._api_error)
        self.exception_handler(Exception)(self._unexpected_error)
        self.not_found(self._route_not_found)

    def request_id(self) -> str:
        """The API Gateway request id of the current event ("" when the event has none)."""
        context = self.current_event.get("requestContext") or {}
        return str(context.get("requestId", ""))

    def _validation_error(self, exc: RequestValidationError) -> Response[Any]:
        return error_response(ValidationFailed(field_errors(exc.errors())), self.request_id())

    def _api_error(self, exc: ApiError) -> Response[Any]:
        if exc.status >= 500:
            logger.warning("answered %s %s", exc.status, exc.code, exc_info=exc.__cause__ or exc)
        return error_response(exc, self.request_id())

    def _unexpected_error(self, exc: Exception) -> Response[Any]:
        logger.exception("unexpected error", exc_info=exc)
        return error_response(InternalError(), self.request_id())

    def _route_not_found(self, exc: Exception) -> Response[Any]:
        # What API Gateway answers for a route it does not have.
        return json_response(404, '{"message":"Not Found"}')


_ERROR_DESCRIPTIONS = {
    400: "A path parameter, query value or body field breaks a rule, or the body is not a JSON object",
    403: "Authorization is on and the token is for another user",
    404: "No such task for this user",
    413: "The body is larger than 64 KiB",
    500: "Unexpected error",
    503: "The database cannot be reached or timed out",
}


def openapi_responses(
    status: int,
    description: str,
    model: Any,
    errors: Iterable[int],
    headers: Mapping[str, str] | None = None,
) -> dict[int, OpenAPIResponse]:
    """OpenAPI `responses` of a route: its success, its errors, and 500 which any route may give.

    Routes return `Response[str]` (JSON text made by pydantic), so the success schema is
    declared here rather than inferred from the return annotation.
    """
    success: OpenAPIResponse = {"description": description, "content": {JSON: {"model": model}}}
    if headers:
        success["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
        }
    responses = {status: success}
    for code in sorted({*errors, 500}):
        error: OpenAPIResponse = {"description": _ERROR_DESCRIPTIONS[code], "content": {JSON: {"model": ErrorBody}}}
        if code == 503:
            error["headers"] = {
                "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
            }
        responses[code] = error
    return responses
