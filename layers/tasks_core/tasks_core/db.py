"""One PostgreSQL connection per execution environment, safe behind RDS Proxy or PgBouncer.

The connection is opened on first use, kept across invocations and replaced when the server or
proxy has closed it. It runs in autocommit with one statement per operation and never prepares
statements (`prepare_threshold=None`), so a transaction-pooling proxy never has to pin it.
Session settings (statement_timeout) live on the role, not in `SET` or startup options, which
RDS Proxy refuses; see migrations/0002_role_timeouts.sql.

Every call (connect, statement, and its one retry) ends by the client-side deadline of
deadline.py, so a database that does not answer is a 503 rather than a Lambda timeout.
"""

from __future__ import annotations

import select
import time
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.rows import RowFactory

from .credentials import Credentials, CredentialsUnavailable, credentials_for
from .deadline import BoundedConnection, Connection, call_deadline
from .errors import DatabaseUnavailable
from .settings import DatabaseSettings

Row = TypeVar("Row")
Params = dict[str, Any]

# libpq (and psycopg) wait at least 2 s for a connection, whatever connect_timeout says.
MIN_CONNECT_TIMEOUT_S = 2


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
        return BoundedConnection.connect(
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
        return self._connection(call_deadline(self._settings))

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
        deadline = call_deadline(self._settings)
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
            # faster than server-side binding on every operation: `make bench` times both (the
            # floor and floor (ClientCursor) columns of bench/results/results.md).
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
