"""Request validation in the contract's order, on top of Powertools' own: the one module that
uses private names of aws-lambda-powertools (pinned exactly for this reason, requirements.txt).

API.md checks a request in this order: path parameters, request headers, body size, body JSON,
body fields. Powertools 3.37 validates everything in one middleware that runs before any user
middleware, parses the body itself and reports all errors together, so that order cannot be
expressed through its public hooks. This subclass of that middleware runs the first checks
itself, then hands over. Private names it relies on, and why:

- `_request_params_to_args` (openapi_validation): validates path and header values with the
  route's own parameter fields, exactly as the parent does later, so rules live in one place;
- `_normalize_multi_params` (openapi_validation): the parent's way to turn the event's headers
  into values (it splits and rejoins comma-separated values);
- `app.context["_route"]`, `app.context["_route_args"]`: the matched route and its raw path
  values, where the resolver keeps them for this middleware;
- `OpenAPIRequestValidationMiddleware._get_body`: overridden so the parent validates the body
  this module has already read under the size and JSON rules;
- `APIGatewayHttpResolver._request_validation_middleware`: the attribute the resolver calls
  first, replaced by an instance of this class (resolver.TaskResolver).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    _normalize_multi_params,
    _request_params_to_args,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.types import EventHandlerInstance

from .authorization import authorize
from .request_body import read_json_object
from .settings import AuthSettings

_BODY_KEY = "tasks_core.json_body"


class ContractRequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, in the order API.md sets: path parameters, request
    headers, body size, body JSON, then body fields and query values.
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
        if route.dependant.header_params:
            headers = _normalize_multi_params(app.current_event.resolved_headers_field, route.dependant.header_params)
            _, header_errors = _request_params_to_args(route.dependant.header_params, headers)
            if header_errors:
                raise RequestValidationError(header_errors)
        if route.dependant.body_params:
            app.context[_BODY_KEY] = read_json_object(app.current_event)
        return super().handler(app, next_middleware)

    def _get_body(self, app: EventHandlerInstance) -> dict[str, Any]:
        body: dict[str, Any] = app.context[_BODY_KEY]
        return body
