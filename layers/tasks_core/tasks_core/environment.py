"""What one Lambda execution environment keeps between invocations: its connection and keys."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .db import Database
from .errors import DatabaseUnavailable
from .settings import get_settings

# Set while a SnapStart snapshot is being prepared (tasks_core.snapstart): a database made then
# would put its connection or credentials into the snapshot, shared by every restored environment.
_database_refused: ContextVar[bool] = ContextVar("database_refused", default=False)


def database() -> Database:
    """The environment's database, connected on first use."""
    if _database_refused.get():
        raise DatabaseUnavailable(get_settings().retry_after_s)
    return _database()


@functools.cache
def _database() -> Database:
    settings = get_settings()
    return Database(settings.database, retry_after_s=settings.retry_after_s)


@contextmanager
def database_refused() -> Iterator[None]:
    """Within the block `database()` makes nothing and raises DatabaseUnavailable (a 503)."""
    token = _database_refused.set(True)
    try:
        yield
    finally:
        _database_refused.reset(token)


def holds_database() -> bool:
    """Whether this environment has made its database (and so may hold a connection or credentials)."""
    return _database.cache_info().currsize > 0


def forget() -> None:
    """Close and drop the environment's database, its connection and credentials with it."""
    if holds_database():
        _database().close()
    _database.cache_clear()


@functools.cache
def cursor_key() -> bytes:
    """The key list cursors are signed with."""
    return get_settings().cursor_secret.get_secret_value().encode()
