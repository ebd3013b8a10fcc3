"""The client-side deadline of every database call, and the connection that keeps to it.

Every database call (connect, statement, and its one retry) ends by a deadline: the invocation's
remaining time less a margin, never more than a cap (settings). The server's statement_timeout
cannot help when the server cannot run (frozen, partitioned, mid-failover); the deadline turns
that into a 503 before Lambda's timeout turns it into a 500. The entrypoint says when the
invocation ends (`InvocationTimeLimit`); `db.Database` asks `call_deadline` when a call must be
over and hands that to its `BoundedConnection`.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen

from .settings import DatabaseSettings

Row = TypeVar("Row")
RV = TypeVar("RV")

# How often psycopg wakes while it waits for the server (its own default, _WAIT_INTERVAL).
_WAIT_INTERVAL_S = 0.1

# When the current Lambda invocation times out (time.monotonic()); set by the entrypoint.
_invocation_ends_at: ContextVar[float | None] = ContextVar("invocation_ends_at", default=None)


class InvocationTimeLimit:
    """Within the block, database calls end before `remaining_ms` (less the margin) runs out.

    A class rather than a generator-based context manager: it runs on every invocation, and this
    costs a third of the time.
    """

    __slots__ = ("_ends_at", "_token")
    _token: Token[float | None]

    def __init__(self, remaining_ms: int) -> None:
        self._ends_at = time.monotonic() + remaining_ms / 1000

    def __enter__(self) -> None:
        self._token = _invocation_ends_at.set(self._ends_at)

    def __exit__(self, *exc: object) -> None:
        _invocation_ends_at.reset(self._token)


def call_deadline(settings: DatabaseSettings) -> float:
    """When a database call starting now must be over (time.monotonic())."""
    deadline = time.monotonic() + settings.deadline_cap_ms / 1000
    ends_at = _invocation_ends_at.get()
    if ends_at is not None:
        deadline = min(deadline, ends_at - settings.deadline_margin_ms / 1000)
    return deadline


class BoundedConnection(psycopg.Connection[Row]):
    """A psycopg connection whose waits for the server end at `deadline` (monotonic seconds).

    psycopg runs every statement through `Connection.wait`, which blocks until the server
    answers; connect_timeout and tcp_user_timeout do not cover a server that holds the
    connection open and never answers (its kernel still acknowledges). psycopg 3.3 gives that
    method a `timeout`, which raises an OperationalError and leaves the connection mid-statement
    (so it is dropped). `wait` is not in psycopg's documented API: this override is the one
    use of it, tied to the exact psycopg pin, and tests/integration/test_deadline.py fails if
    an upgrade changes it.
    """

    deadline: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = _WAIT_INTERVAL_S, timeout: float | None = None) -> RV:
        """Consume `gen` as psycopg does, but not past the deadline."""
        if self.deadline is not None:
            left = max(0.0, self.deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        return super().wait(gen, interval, timeout)


Connection = BoundedConnection[Any]
