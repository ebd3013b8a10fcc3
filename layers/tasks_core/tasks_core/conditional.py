"""Conditional requests (RFC 9110, section 13): If-Match and If-None-Match against a task's ETag.

A header is a list of entity tags or `*`. Elements that are not entity tags are ignored, so a
malformed If-Match matches nothing (412: a guarded write never goes through on a tag it could
not read) and a malformed If-None-Match matches nothing (the full answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One list element: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (etagc = %x21 / %x23-7E / obs-text,
# so a comma may sit inside the quotes), or anything else up to the next comma.
_ELEMENT = re.compile(r'[ \t]*(?:(W/)?("[\x21\x23-\x7e\x80-\xff]*")|[^,]*)[ \t]*(?:,|$)')


@dataclass(frozen=True)
class EntityTag:
    """One tag of a list: its quoted opaque value and whether it was marked weak (W/)."""

    opaque: str
    weak: bool


def parse_tags(header: str) -> list[EntityTag] | None:
    """The tags of an If-Match / If-None-Match value; None for `*` (any current representation)."""
    if header.strip(" \t") == "*":
        return None
    tags = []
    position = 0
    while position < len(header):
        found = _ELEMENT.match(header, position)
        if found is None:  # cannot happen: the second alternative takes anything up to a comma
            break
        if found.group(2):
            tags.append(EntityTag(found.group(2), weak=bool(found.group(1))))
        position = found.end()
    return tags


def if_match_tags(header: str | None) -> list[str] | None:
    """The strong tags an If-Match header accepts, or None when any task will do.

    None for no header and for `*` (the task exists, which is checked anyway). Strong comparison:
    a weak tag never matches.
    """
    if header is None:
        return None
    tags = parse_tags(header)
    if tags is None:
        return None
    return [tag.opaque for tag in tags if not tag.weak]


def none_match(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names the current tag (weak comparison), so the answer is 304."""
    if header is None:
        return False
    tags = parse_tags(header)
    return tags is None or any(tag.opaque == etag for tag in tags)
