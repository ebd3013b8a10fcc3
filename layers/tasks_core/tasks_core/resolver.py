"""The resolver every function uses: routes declared as with Powertools, answered here.

A function declares its route as it would with Powertools' resolver (`@app.get(rule, summary=...,
responses=...)`, parameters marked `Path()`, `Header()`, `Query()`, `Body()` from params.py), and
local/gateway/openapi.py hands those declarations to Powertools to write the OpenAPI document.
A request is answered here: the route is matched on the raw path as Powertools matches it
(tests/unit/test_routing.py compares the two), its arguments are validated in the contract's order
(request_validation.py), and every error is mapped once to its response. Powertools' dispatch
(its event wrapper, middleware chain, response builder, and a case-insensitive copy of every
request's headers for a compression check) cost about half of a warm invocation's Python time
for nothing these routes use (no CORS, compression or middleware), and importing its event
handler at all about 65 ms of every import (docs/performance.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from . import snapstart
from .errors import ApiError, InternalError
from .observability import logger
from .request_validation import Endpoint, RouteValidation
from .responses import Response, error_response, json_response, lambda_response
from .settings import AuthSettings, get_settings

EndpointT = TypeVar("EndpointT", bound=Endpoint)

# A path parameter (`<name>` in a rule) is one path segment of these characters: Powertools'
# own rule (RFC 3986's unreserved and sub-delims, plus what clients send unencoded).
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PARAMETER_IN_RULE = re.compile(r"<(\w+)>")
# What API Gateway answers for a route it does not have.
_NOT_FOUND_BODY = '{"message":"Not Found"}'


@dataclass(frozen=True)
class Route:
    """One method and rule, the endpoint that answers it and its OpenAPI arguments."""

    method: str
    rule: str
    endpoint: Endpoint
    openapi: Mapping[str, Any]
    pattern: re.Pattern[str]
    validation: RouteValidation


class TaskResolver:
    """An HTTP API (payload 2.0) resolver whose routes validate their requests as API.md says."""

    def __init__(self, auth_settings: Callable[[], AuthSettings] = lambda: get_settings().auth) -> None:
        # Settings are read on the first request, not at import: importing a handler reads nothing.
        self._auth_settings = auth_settings
        self._routes: list[Route] = []
        # Before a SnapStart snapshot, every route of this function answers once (docs/snapstart.md).
        snapstart.prepare(self)

    def route(self, rule: str, method: str | list[str], **openapi: Any) -> Callable[[EndpointT], EndpointT]:
        """Declare `endpoint` as the answer to `method` on `rule` (`/users/<user_id>/tasks`).

        `openapi` holds Powertools' route arguments (summary, operation_id, tags, responses, ...)
        for the OpenAPI document. The parameter declarations are compiled into the route's
        validation now, once. The decorator returns the endpoint itself, so PUT and PATCH can
        stack on one function; routes keep the order they are declared in.
        """
        methods = [method] if isinstance(method, str) else list(method)
        pattern = re.compile(_PARAMETER_IN_RULE.sub(lambda name: f"(?P<{name[1]}>{_SEGMENT})", f"^{rule}$"))
        # Stacked decorators apply bottom-up: the position is taken when the route is declared.
        position = len(self._routes)

        def register(endpoint: EndpointT) -> EndpointT:
            validation = RouteValidation.of(endpoint)
            routes = [Route(item.upper(), rule, endpoint, openapi, pattern, validation) for item in methods]
            self._routes[position:position] = routes
            return endpoint

        return register

    def get(self, rule: str, **openapi: Any) -> Callable[[EndpointT], EndpointT]:
        return self.route(rule, "GET", **openapi)

    def post(self, rule: str, **openapi: Any) -> Callable[[EndpointT], EndpointT]:
        return self.route(rule, "POST", **openapi)

    def put(self, rule: str, **openapi: Any) -> Callable[[EndpointT], EndpointT]:
        return self.route(rule, "PUT", **openapi)

    def patch(self, rule: str, **openapi: Any) -> Callable[[EndpointT], EndpointT]:
        return self.route(rule, "PATCH", **openapi)

    def delete(self, rule: str, **openapi: Any) -> Callable[[EndpointT], EndpointT]:
        return self.route(rule, "DELETE", **openapi)

    @property
    def routes(self) -> list[Route]:
        """Every route, in the order declared."""
        return list(self._routes)

    @property
    def route_keys(self) -> list[tuple[str, str]]:
        """(method, rule) of every route, in Powertools' rule syntax (`/users/<user_id>/tasks`)."""
        return [(route.method, route.rule) for route in self._routes]

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """The Lambda response (payload 2.0) to one API Gateway event."""
        try:
            response = self._answer(event)
        except ApiError as exc:
            if exc.status >= 500:
                logger.warning("answered %s %s", exc.status, exc.code, exc_info=exc.__cause__ or exc)
            response = error_response(exc, _request_id(event))
        except Exception as exc:  # noqa: BLE001 - any other error is the contract's 500, logged
            logger.exception("unexpected error", exc_info=exc)
            response = error_response(InternalError(), _request_id(event))
        return lambda_response(response)

    def _answer(self, event: Mapping[str, Any]) -> Response:
        context = event.get("requestContext") or {}
        method = str((context.get("http") or {}).get("method", "")).upper()
        path = str(event.get("rawPath", ""))
        stage = context.get("stage", "$default")
        if stage != "$default":
            # A named stage's requests carry it as the first segment of the raw path.
            path = path[len(stage) + 1 :]
        for route in self._routes:
            if route.method != method:
                continue
            match = route.pattern.match(path)
            if match:
                arguments = route.validation.arguments(event, match.groupdict(), self._auth_settings)
                return route.endpoint(**arguments)  # type: ignore[no-any-return]
        return json_response(404, _NOT_FOUND_BODY)


def _request_id(event: Mapping[str, Any]) -> str:
    """The API Gateway request id of an event ("" when it has none)."""
    return str((event.get("requestContext") or {}).get("requestId", ""))
