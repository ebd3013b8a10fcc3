"""The request body: at most MAX_BODY_BYTES of strict JSON that is an object (API.md)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from .errors import InvalidJson, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024


def read_json_object(event: Mapping[str, Any], max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object; PayloadTooLarge or InvalidJson otherwise.

    The body is parsed whatever the Content-Type says (curl -d sends form-urlencoded), as
    strict JSON: UTF-8, no NaN or Infinity. API Gateway passes a body base64-encoded unless its
    Content-Type is text (text/*, application/json, application/xml, application/javascript), so
    invalid UTF-8 arrives as bytes and fails the strict decode here.
    """
    raw = event.get("body") or ""
    encoded = bool(event.get("isBase64Encoded"))
    try:
        data = base64.b64decode(raw, validate=True) if encoded else raw.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError) as exc:
        raise InvalidJson() from exc
    if len(data) > max_bytes:
        raise PayloadTooLarge(max_bytes)
    try:
        text = data.decode("utf-8") if encoded else raw
        value = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidJson() from exc
    except RecursionError as exc:  # 64 KiB of "[" nests deeper than the parser recurses
        raise InvalidJson("request body is nested too deeply") from exc
    if not isinstance(value, dict):
        raise InvalidJson()
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
