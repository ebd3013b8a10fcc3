"""Pydantic's and Powertools' validation errors as the contract's `errors` entries.

Rules with a message of their own raise ValueError with it (models.matching, the title and text
checks), which arrives as `value_error`; this table words pydantic's built-in checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import FieldError

_LOCATIONS = ("body", "path", "query", "header", "cookie")

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
        if loc[:1] == ["header"] and len(loc) > 1:
            # Powertools matches headers in lower case; name them as HTTP writes them.
            loc[1] = "-".join(word.capitalize() for word in loc[1].split("-"))
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
