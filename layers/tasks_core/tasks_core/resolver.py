"""The resolver every function uses: Powertools' HTTP API resolver for routing and OpenAPI, the
contract's request validation (request_validation.py), and the one mapping from errors to
responses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from .errors import ApiError, InternalError
from .observability import logger
from .request_validation import Endpoint, validated
from .responses import error_response, json_response
from .settings import AuthSettings, get_settings

EndpointT = TypeVar("EndpointT", bound=Endpoint)


class TaskResolver(APIGatewayHttpResolver):
    """An HTTP API (payload 2.0) resolver whose routes validate their requests as API.md says."""

    def __init__(self, auth_settings: Callable[[], AuthSettings] = lambda: get_settings().auth) -> None:
        # Powertools' own validation stays off: each route validates its request itself, once.
        super().__init__(enable_validation=False)
        # Settings are read on the first request, not at import: importing a handler reads nothing.
        self._auth_settings = auth_settings
        self.exception_handler(ApiError)(self._api_error)
        self.exception_handler(Exception)(self._unexpected_error)
        self.not_found(self._route_not_found)

    def route(self, rule: str, method: Any, *args: Any, **kwargs: Any) -> Callable[[EndpointT], EndpointT]:
        """Powertools' route decorator, registering the endpoint with its request validation.

        The decorator returns the endpoint itself, so PUT and PATCH can stack on one function.
        """
        register = super().route(rule, method, *args, **kwargs)

        def register_validated(endpoint: EndpointT) -> EndpointT:
            register(validated(endpoint, lambda: self.current_event, self._auth_settings))
            return endpoint

        return register_validated

    def request_id(self) -> str:
        """The API Gateway request id of the current event ("" when the event has none)."""
        context = self.current_event.get("requestContext") or {}
        return str(context.get("requestId", ""))

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
