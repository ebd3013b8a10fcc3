"""List cursors: opaque, bound to their user, and refused when changed."""

from __future__ import annotations

import pytest

from tasks_core.errors import ValidationFailed
from tasks_core.pagination import InvalidCursor, cursor_position, decode_cursor, encode_cursor, next_link

KEY = b"test-key"


@pytest.mark.parametrize("last_id", [1, 42, 2**63 - 1])
def test_round_trip(last_id: int) -> None:
    cursor = encode_cursor(KEY, "user-1", last_id)
    assert cursor.isascii()
    assert "=" not in cursor
    assert decode_cursor(KEY, "user-1", cursor) == last_id


def test_cursor_does_not_show_the_id() -> None:
    assert "42" not in encode_cursor(KEY, "user-1", 42)


@pytest.mark.parametrize(
    "cursor",
    ["", "abc", "!!!!", "A" * 30, "é", encode_cursor(KEY, "user-1", 5) + "A", encode_cursor(KEY, "user-1", 5)[:-1]],
)
def test_malformed(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(KEY, "user-1", cursor)


def test_every_single_character_change_is_refused() -> None:
    cursor = encode_cursor(KEY, "user-1", 1234)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, original in enumerate(cursor):
        for replacement in alphabet:
            if replacement == original:
                continue
            changed = cursor[:index] + replacement + cursor[index + 1 :]
            with pytest.raises(InvalidCursor):
                decode_cursor(KEY, "user-1", changed)


def test_characters_outside_the_alphabet_are_refused() -> None:
    cursor = encode_cursor(KEY, "user-1", 7)
    for inserted in ("!", " ", ".", "="):
        with pytest.raises(InvalidCursor):
            decode_cursor(KEY, "user-1", cursor[:3] + inserted + cursor[3:])


def test_bound_to_user_and_key() -> None:
    cursor = encode_cursor(KEY, "user-1", 7)
    with pytest.raises(InvalidCursor):
        decode_cursor(KEY, "user-2", cursor)
    with pytest.raises(InvalidCursor):
        decode_cursor(b"another-key", "user-1", cursor)


def test_cursor_position() -> None:
    assert cursor_position(KEY, "u", None) == 0
    assert cursor_position(KEY, "u", encode_cursor(KEY, "u", 9)) == 9
    with pytest.raises(ValidationFailed) as caught:
        cursor_position(KEY, "u", "nope")
    assert caught.value.errors[0].field == "cursor"


def test_next_link_keeps_limit_and_filter() -> None:
    link = next_link(KEY, base_path="/users/u/tasks", user_id="u", last_id=3, limit=2, completed=False)
    cursor = encode_cursor(KEY, "u", 3)
    assert link == f'</users/u/tasks?limit=2&completed=false&cursor={cursor}>; rel="next"'
    without_filter = next_link(KEY, base_path="/users/u/tasks", user_id="u", last_id=3, limit=50, completed=None)
    assert without_filter == f'</users/u/tasks?limit=50&cursor={cursor}>; rel="next"'
