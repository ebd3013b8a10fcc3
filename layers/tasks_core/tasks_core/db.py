"""One PostgreSQL connection per execution environment, safe behind RDS Proxy or PgBouncer.

The connection is opened on first use, kept across invocations and replaced when the server or
proxy has closed it. It runs in autocommit with one statement per operation and never prepares
statements (`prepare_threshold=None`), so a transaction-pooling proxy never has to pin it.
Session settings (statement_timeout) live on the role, not in `SET` or startup options, which
RDS Proxy refuses; see migrations/0002_role_timeouts.sql.

Every database call (connect, statement, and its one retry) ends by a client-side deadline: the
invocation's remaining time less a margin, never more than a cap (settings). The server's
statement_timeout cannot help when the server cannot run (frozen, partitioned, mid-failover);
the deadline turns that into a 503 before Lambda's timeout turns it into a 500.
"""

from __future__ import annotations

import select
import time
from contextvars import ContextVar, Token
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.abc import PQGen
from psycopg.rows import RowFactory

from .credentials import Credentials, CredentialsUnavailable, credentials_for
from .errors import DatabaseUnavailable
from .settings import DatabaseSettings

Row = TypeVar("Row")
RV = TypeVar("RV")
Params = dict[str, Any]

# libpq (and psycopg) wait at least 2 s for a connection, whatever connect_timeout says.
MIN_CONNECT_TIMEOUT_S = 2
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


class _BoundedConnection(psycopg.Connection[Row]):
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


Connection = _BoundedConnection[Any]


def _peer_has_spoken(conn: Connection) -> bool:
    """True when an idle connection has something to read: the server's goodbye, or EOF.

    In autocommit with no LISTEN, an idle connection receives nothing unless the server or a
    proxy is closing it (pg_terminate_backend, idle timeout, failover). Polling the socket costs
    no round trip, unlike a `SELECT 1` before every statement.
    """
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


class Database:
    """The lazily opened, reused connection and the rules for using it."""

    def __init__(
        self,
        settings: DatabaseSettings,
        retry_after_s: int,
        credentials: Credentials | None = None,
    ) -> None:
        self._settings = settings
        self._retry_after_s = retry_after_s
        self._credentials = credentials or credentials_for(settings)
        self._conn: Connection | None = None

    def _deadline(self) -> float:
        """When a database call starting now must be over (time.monotonic())."""
        settings = self._settings
        deadline = time.monotonic() + settings.deadline_cap_ms / 1000
        ends_at = _invocation_ends_at.get()
        if ends_at is not None:
            deadline = min(deadline, ends_at - settings.deadline_margin_ms / 1000)
        return deadline

    def _connect(self, deadline: float) -> Connection:
        try:
            return self._open(deadline)
        except psycopg.OperationalError as exc:
            # A rotated secret shows up as a failed connect: read it again, once. Not after a
            # timeout, which says nothing about credentials and has spent the time.
            if isinstance(exc, psycopg.errors.ConnectionTimeout) or not self._refreshed():
                raise self._unavailable() from exc
        try:
            return self._open(deadline)
        except psycopg.OperationalError as exc:
            raise self._unavailable() from exc

    def _refreshed(self) -> bool:
        try:
            return self._credentials.refresh()
        except CredentialsUnavailable:
            return False

    def _open(self, deadline: float) -> Connection:
        settings = self._settings
        self._seconds_to_connect(deadline)  # none: no credentials fetched for nothing
        try:
            params = dict(self._credentials.connect_params())
        except CredentialsUnavailable as exc:
            raise self._unavailable() from exc
        # Each address the host resolves to gets connect_timeout (psycopg tries them in turn).
        return _BoundedConnection.connect(
            params.pop("conninfo", ""),
            autocommit=True,
            prepare_threshold=None,
            connect_timeout=min(settings.connect_timeout_s, self._seconds_to_connect(deadline)),
            tcp_user_timeout=settings.tcp_user_timeout_ms,
            keepalives=1,
            keepalives_idle=30,
            application_name=settings.application_name,
            **params,
        )

    def _seconds_to_connect(self, deadline: float) -> int:
        left_s = int(deadline - time.monotonic())
        if left_s < MIN_CONNECT_TIMEOUT_S:
            # libpq cannot be told to wait less: a connect started now could outlive the deadline.
            raise self._unavailable() from TimeoutError("too little time left before the deadline to connect")
        return left_s

    def _unavailable(self) -> DatabaseUnavailable:
        return DatabaseUnavailable(self._retry_after_s)

    def connection(self) -> tuple[Connection, bool]:
        """The live connection, and whether it was just opened."""
        return self._connection(self._deadline())

    def _connection(self, deadline: float) -> tuple[Connection, bool]:
        conn = self._conn
        if conn is not None and not conn.closed and not _peer_has_spoken(conn):
            return conn, False
        self.close()
        self._conn = self._connect(deadline)
        return self._conn, True

    def close(self) -> None:
        """Close the connection, if any; the next statement opens a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def fetch(
        self,
        query: str,
        params: Params,
        row_factory: RowFactory[Row],
        *,
        idempotent: bool,
    ) -> list[Row]:
        """Run one statement and return its rows, by the deadline or DatabaseUnavailable.

        A kept connection that died during the statement is replaced and the statement run
        again once when it is idempotent; an insert is not, as it may have committed. A kept
        connection that reaches a read-only server (SQLSTATE 25006, after an Aurora failover)
        is replaced and any statement run again once: the server refused it, nothing was
        written.
        """
        deadline = self._deadline()
        conn, fresh = self._connection(deadline)
        try:
            return self._run(conn, query, params, row_factory, deadline)
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            self.close()
            if fresh:
                raise self._unavailable() from exc
        except psycopg.OperationalError as exc:
            if not self._unusable(conn, exc):
                raise self._unavailable() from exc
            self.close()
            if fresh or not idempotent or time.monotonic() >= deadline:
                raise self._unavailable() from exc
        conn, _ = self._connection(deadline)
        try:
            return self._run(conn, query, params, row_factory, deadline)
        except (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction) as exc:
            if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction) or self._unusable(conn, exc):
                self.close()
            raise self._unavailable() from exc

    @staticmethod
    def _run(
        conn: Connection,
        query: str,
        params: Params,
        row_factory: RowFactory[Row],
        deadline: float,
    ) -> list[Row]:
        conn.deadline = deadline
        try:
            # Client-side binding: one simple Query message, nothing for a proxy to pin, and
            # measured 180-280 us faster than server-side binding on every operation (bench/README.md).
            with psycopg.ClientCursor(conn, row_factory=row_factory) as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description is not None else []
        finally:
            conn.deadline = None

    @staticmethod
    def _unusable(conn: Connection, exc: psycopg.OperationalError) -> bool:
        # A statement timeout (QueryCanceled) leaves the connection idle and usable. A lost one is
        # broken; one whose deadline passed is still in its statement (ACTIVE) and must go.
        return (
            conn.broken
            or conn.closed
            or isinstance(exc, psycopg.errors.AdminShutdown)
            or conn.info.transaction_status != pq.TransactionStatus.IDLE
        )
