"""The resolver every function uses: Powertools declares the routes, this module answers them.

Routes are declared with Powertools' decorators (`@app.get(...)` with `Path()`, `Header()`,
`Body()` markers), which is what its OpenAPI generation and Swagger UI read. A request is answered
here: the route is matched on the raw path as Powertools matches it, its arguments are validated
in the contract's order (request_validation.py), and every error is mapped once to its response.
Powertools' own dispatch (its event wrapper, middleware chain, response builder and a
case-insensitive copy of every request's headers for a compression check) cost about half of a
warm invocation's Python time and added nothing these routes use: no CORS, no compression, no
middleware (docs/performance.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from . import snapstart
from .errors import ApiError, InternalError
from .observability import logger
from .request_validation import Endpoint, RouteValidation
from .responses import error_response, json_response, lambda_response
from .settings import AuthSettings, get_settings

EndpointT = TypeVar("EndpointT", bound=Endpoint)

# A path parameter (`<name>` in a rule) is one path segment of these characters: Powertools'
# own rule (RFC 3986's unreserved and sub-delims, plus what clients send unencoded).
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PARAMETER_IN_RULE = re.compile(r"<(\w+)>")
# What API Gateway answers for a route it does not have.
_NOT_FOUND_BODY = '{"message":"Not Found"}'


@dataclass(frozen=True)
class _Route:
    """One method and rule, and how to answer a request that matches them."""

    method: str
    rule: str
    pattern: re.Pattern[str]
    endpoint: Endpoint
    validation: RouteValidation


class TaskResolver(APIGatewayHttpResolver):
    """An HTTP API (payload 2.0) resolver whose routes validate their requests as API.md says."""

    def __init__(self, auth_settings: Callable[[], AuthSettings] = lambda: get_settings().auth) -> None:
        # Powertools' own validation is off: each route validates its request itself, once.
        super().__init__(enable_validation=False)
        # Settings are read on the first request, not at import: importing a handler reads nothing.
        self._auth_settings = auth_settings
        self._routes: list[_Route] = []
        # Before a SnapStart snapshot, every route of this function answers once (docs/snapstart.md).
        snapstart.prepare(self)

    def route(
        self, rule: str, method: str | list[str] | tuple[str], *args: Any, **kwargs: Any
    ) -> Callable[[EndpointT], EndpointT]:
        """Powertools' route decorator (for OpenAPI), registering the endpoint here to be answered.

        The parameter declarations are compiled into the route's validation now, once. The
        decorator returns the endpoint itself, so PUT and PATCH can stack on one function.
        """
        methods = [method] if isinstance(method, str) else list(method)
        document = super().route(rule, method, *args, **kwargs)
        pattern = re.compile(_PARAMETER_IN_RULE.sub(lambda name: f"(?P<{name[1]}>{_SEGMENT})", f"^{rule}$"))

        # Stacked decorators apply bottom-up: routes keep the order they are declared in.
        position = len(self._routes)

        def register(endpoint: EndpointT) -> EndpointT:
            document(endpoint)
            validation = RouteValidation.of(endpoint)
            self._routes[position:position] = [
                _Route(item.upper(), rule, pattern, endpoint, validation) for item in methods
            ]
            return endpoint

        return register

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

    def _answer(self, event: Mapping[str, Any]) -> Response[str]:
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
