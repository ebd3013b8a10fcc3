"""Typed errors of the API and the one place that turns them into the contract's bodies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the field (or parameter) and what is wrong with it."""

    field: str
    message: str


class ApiError(Exception):
    """An error the client is told about: a status, a stable `code` and a readable `detail`."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_detail: ClassVar[str] = "internal server error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    def headers(self) -> dict[str, str]:
        """Extra response headers this error carries."""
        return {}

    def body(self, request_id: str) -> dict[str, Any]:
        """The error body of API.md."""
        return {"detail": self.detail, "code": self.code, "request_id": request_id}


class ValidationFailed(ApiError):
    """A field, parameter or query value breaks a rule."""

    status = 400
    code = "validation_error"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        if not errors:
            raise ValueError("ValidationFailed needs at least one FieldError")
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(f"{first.field} {first.message}")

    def body(self, request_id: str) -> dict[str, Any]:
        body = super().body(request_id)
        body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return body


class InvalidJson(ApiError):
    """The body is not JSON, or not a JSON object."""

    status = 400
    code = "invalid_json"
    default_detail = "request body must be a JSON object"


class Forbidden(ApiError):
    """The caller's token is for another user."""

    status = 403
    code = "forbidden"
    default_detail = "not allowed to act for this user"


class TaskNotFound(ApiError):
    """No such task for this user (the same whether it is missing or someone else's)."""

    status = 404
    code = "not_found"
    default_detail = "Task not found"


class IdempotencyKeyInFlight(ApiError):
    """A request with the same Idempotency-Key is still running; the client should retry."""

    status = 409
    code = "idempotency_key_in_flight"
    default_detail = "a request with this Idempotency-Key is still in progress, retry later"

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__()

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class PreconditionFailed(ApiError):
    """If-Match names none of the task's current ETag: someone changed it since it was read."""

    status = 412
    code = "precondition_failed"
    default_detail = "the task has changed: If-Match does not match its current ETag"


class IdempotencyKeyReused(ApiError):
    """The Idempotency-Key was used before for a different request."""

    status = 422
    code = "idempotency_key_reused"
    default_detail = "this Idempotency-Key was already used for a different request"


class PayloadTooLarge(ApiError):
    """The body is larger than the contract allows."""

    status = 413
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body must be at most {limit} bytes")


class DatabaseUnavailable(ApiError):
    """PostgreSQL could not be reached or did not answer in time."""

    status = 503
    code = "database_unavailable"
    default_detail = "the database is unavailable, try again later"

    def __init__(self, retry_after_s: int, detail: str | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(detail)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class InternalError(ApiError):
    """Anything unexpected; the body says nothing about the cause (the log does)."""
