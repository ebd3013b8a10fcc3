"""What one Lambda execution environment keeps between invocations: its connection and keys."""

from __future__ import annotations

import functools

from .db import Database
from .settings import get_settings


@functools.cache
def database() -> Database:
    """The environment's database, connected on first use."""
    settings = get_settings()
    return Database(settings.database, retry_after_s=settings.retry_after_s)


@functools.cache
def cursor_key() -> bytes:
    """The key list cursors are signed with."""
    return get_settings().cursor_secret.get_secret_value().encode()
