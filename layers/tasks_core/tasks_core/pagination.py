"""Opaque keyset cursors for the task list.

A cursor is the last id of a page and a MAC over that id and the user it was listed for,
base64url without padding. Any change to it (or using it for another user) fails the MAC and
is a 400; the MAC guards the cursor's integrity, while user scoping is done by the SQL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from typing import Annotated
from urllib.parse import urlencode

from .errors import FieldError, ValidationFailed
from .models import matching

_VERSION = 1
_LAYOUT = struct.Struct(">BQ")  # version, last id
_MAC_BYTES = 12
# base64url of the layout and the MAC, without padding: 28 characters of A-Z a-z 0-9 - _.
CURSOR_LENGTH = -(-(_LAYOUT.size + _MAC_BYTES) * 4 // 3)
CURSOR_PATTERN = rf"[A-Za-z0-9_\-]{{{CURSOR_LENGTH}}}"
INVALID_CURSOR = "is not a valid cursor"
Cursor = Annotated[str, *matching(CURSOR_PATTERN, INVALID_CURSOR, max_length=CURSOR_LENGTH)]


class InvalidCursor(ValueError):
    """The cursor was not made by this API for this user."""


def _mac(key: bytes, user_id: str, payload: bytes) -> bytes:
    message = user_id.encode() + b"\x00" + payload
    return hmac.digest(key, message, hashlib.sha256)[:_MAC_BYTES]


def encode_cursor(key: bytes, user_id: str, last_id: int) -> str:
    """Cursor that continues a listing of `user_id` after task `last_id`."""
    payload = _LAYOUT.pack(_VERSION, last_id)
    token = payload + _mac(key, user_id, payload)
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode()


def decode_cursor(key: bytes, user_id: str, cursor: str) -> int:
    """The last id the cursor stands for; InvalidCursor when it was not made by encode_cursor."""
    if not cursor.isascii():
        raise InvalidCursor(INVALID_CURSOR)
    try:
        token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(INVALID_CURSOR) from exc
    # b64decode skips characters outside the alphabet: only the canonical spelling is accepted.
    canonical = base64.urlsafe_b64encode(token).rstrip(b"=").decode()
    payload, mac = token[: _LAYOUT.size], token[_LAYOUT.size :]
    if canonical != cursor or len(payload) != _LAYOUT.size:
        raise InvalidCursor(INVALID_CURSOR)
    if not hmac.compare_digest(mac, _mac(key, user_id, payload)):
        raise InvalidCursor(INVALID_CURSOR)
    version, last_id = _LAYOUT.unpack(payload)
    if version != _VERSION:
        raise InvalidCursor(INVALID_CURSOR)
    return int(last_id)


def cursor_position(key: bytes, user_id: str, cursor: str | None) -> int:
    """The id a listing continues after (0 for the first page); a 400 for a bad cursor."""
    if cursor is None:
        return 0
    try:
        return decode_cursor(key, user_id, cursor)
    except InvalidCursor as exc:
        raise ValidationFailed([FieldError("cursor", str(exc))]) from exc


def next_link(key: bytes, *, base_path: str, user_id: str, last_id: int, limit: int, completed: bool | None) -> str:
    """The `Link` header to the next page: relative, keeping the limit and the filter."""
    query: dict[str, str | int] = {"limit": limit}
    if completed is not None:
        query["completed"] = "true" if completed else "false"
    query["cursor"] = encode_cursor(key, user_id, last_id)
    return f'<{base_path}?{urlencode(query)}>; rel="next"'
