"""The resolver every function uses: Powertools' HTTP API resolver with validation on, the
contract's check order, the one mapping from errors to responses, and its SnapStart warm-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from . import snapstart
from .errors import ApiError, InternalError, ValidationFailed
from .field_errors import field_errors
from .observability import logger
from .powertools_validation import ContractRequestValidation
from .responses import error_response, json_response
from .settings import AuthSettings, get_settings

AnyCallableT = TypeVar("AnyCallableT", bound=Callable[..., Any])


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
        self._warm_up_routes: list[tuple[str, str]] = []
        # Before a SnapStart snapshot, every route of this function answers once (docs/snapstart.md).
        snapstart.prepare(self)

    def route(
        self, rule: str, method: str | list[str] | tuple[str], *args: Any, **kwargs: Any
    ) -> Callable[[AnyCallableT], AnyCallableT]:
        """Powertools' route decorator, which also records the route for the SnapStart warm-up."""
        methods = [method] if isinstance(method, str) else list(method)
        self._warm_up_routes += [(item.upper(), rule) for item in methods]
        return super().route(rule, method, *args, **kwargs)

    @property
    def route_keys(self) -> list[tuple[str, str]]:
        """(method, rule) of every route, in Powertools' rule syntax (`/users/<user_id>/tasks`)."""
        return list(self._warm_up_routes)

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
