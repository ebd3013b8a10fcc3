"""The task model family and the rules for every value a client sends (API.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

TITLE_MAX_LENGTH = 500
DESCRIPTION_MAX_LENGTH = 5000
# `.` and `..` fit the alphabet, but clients normalise such path segments away (RFC 3986), so
# that user could never reach its tasks.
USER_ID_MAX_LENGTH = 128
USER_ID_PATTERN = rf"(?!\.\.?$)[A-Za-z0-9._~@:+|\-]{{1,{USER_ID_MAX_LENGTH}}}"
USER_ID_RULE = f"must be 1 to {USER_ID_MAX_LENGTH} of A-Z a-z 0-9 . _ ~ @ : + | -, and not . or .."
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IDEMPOTENCY_KEY_PATTERN = rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}"
IDEMPOTENCY_KEY_RULE = f"must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters (0x21-0x7E)"
TASK_ID_MAX = 2**63 - 1  # PostgreSQL bigint
LIST_LIMIT_MAX = 200  # keeps the largest page (200 x ~20 KB) far below Lambda's 6 MB
LIST_LIMIT_DEFAULT = 100


def matching(pattern: str, rule: str, *, max_length: int) -> tuple[AfterValidator, WithJsonSchema]:
    """A string rule as a validator whose message is `rule`, and as the JSON schema's pattern."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(rule)
        return value

    schema = {"type": "string", "pattern": f"^{pattern}$", "minLength": 1, "maxLength": max_length}
    return AfterValidator(check), WithJsonSchema(schema)


def storable_text(value: str) -> str:
    """Reject what PostgreSQL text cannot hold: U+0000 and unpaired surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain U+0000")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must not contain unpaired surrogates") from None
    return value


def stripped_title(value: str) -> str:
    """Strip Unicode white space, then check the length in code points."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > TITLE_MAX_LENGTH:
        raise ValueError(f"must be at most {TITLE_MAX_LENGTH} characters")
    return value


def decimal_digits(value: Any) -> Any:
    """Only plain decimal digits: no sign, spaces, underscores or exponent ("1e3")."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a decimal integer")
    return value


def true_or_false(value: Any) -> Any:
    """The list filter takes exactly `true` or `false`."""
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("must be true or false")
        return value == "true"
    return value


def utc_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC, always with microseconds: 2026-11-26T21:14:03.512345Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Title = Annotated[
    str,
    AfterValidator(storable_text),
    AfterValidator(stripped_title),
    # The length is checked after stripping, so it cannot be a core-schema constraint.
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": TITLE_MAX_LENGTH}),
]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX_LENGTH), AfterValidator(storable_text)]
Timestamp = Annotated[
    datetime,
    PlainSerializer(utc_timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

UserId = Annotated[str, *matching(USER_ID_PATTERN, USER_ID_RULE, max_length=USER_ID_MAX_LENGTH)]
IdempotencyKeyValue = Annotated[
    str, *matching(IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE, max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
]
# The bounds come before the BeforeValidator (which runs first either way) so that pydantic's
# JSON schema says minimum/maximum rather than its internal ge/le.
TaskId = Annotated[int, Field(ge=1, le=TASK_ID_MAX), BeforeValidator(decimal_digits)]
ListLimit = Annotated[int, Field(ge=1, le=LIST_LIMIT_MAX), BeforeValidator(decimal_digits)]
CompletedFilter = Annotated[bool, BeforeValidator(true_or_false)]

_BODY_CONFIG = ConfigDict(strict=True, extra="forbid")


class TaskCreate(BaseModel):
    """Body of POST /users/{user_id}/tasks."""

    model_config = _BODY_CONFIG

    title: Title
    description: Description | None = None
    completed: StrictBool = False


class TaskUpdate(BaseModel):
    """Body of PUT and PATCH: any subset of the fields; only those present change."""

    model_config = _BODY_CONFIG

    title: Annotated[
        Title | None, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": TITLE_MAX_LENGTH})
    ] = None
    description: Description | None = None
    completed: Annotated[StrictBool | None, WithJsonSchema({"type": "boolean"})] = None

    @field_validator("title", "completed")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Absent means "leave as is"; an explicit null has no meaning for these fields.
        if value is None:
            raise ValueError("must not be null")
        return value


class Task(BaseModel):
    """A task as the API returns it."""

    id: int
    title: str
    description: str | None
    completed: bool
    user_id: str
    created_at: Timestamp
    updated_at: Timestamp


class Message(BaseModel):
    """A plain confirmation, as DELETE returns."""

    message: str


class Health(BaseModel):
    """GET /health when everything answers."""

    status: str
    database: str


class ErrorItem(BaseModel):
    """One entry of `errors` in an error body."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error response (API.md, Errors)."""

    detail: str
    code: str
    errors: list[ErrorItem] | None = None
    request_id: str
