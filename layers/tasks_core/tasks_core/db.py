"""One PostgreSQL connection per execution environment, safe behind RDS Proxy or PgBouncer.

The connection is opened on first use, kept across invocations and replaced when the server or
proxy has closed it. It runs in autocommit with one statement per operation and never prepares
statements (`prepare_threshold=None`), so a transaction-pooling proxy never has to pin it.
Session settings (statement_timeout) live on the role, not in `SET` or startup options, which
RDS Proxy refuses; see migrations/0002_role_timeouts.sql.
"""

from __future__ import annotations

import select
from typing import Any, TypeVar

import psycopg
from psycopg.rows import RowFactory

from .credentials import Credentials, credentials_for
from .errors import DatabaseUnavailable
from .settings import DatabaseSettings

Row = TypeVar("Row")
Params = dict[str, Any]


def _peer_has_spoken(conn: psycopg.Connection[Any]) -> bool:
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
        self._conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return self._open()
        except psycopg.OperationalError as exc:
            # A rotated secret shows up as a failed connect: read it again, once.
            if not self._credentials.refresh():
                raise self._unavailable() from exc
        try:
            return self._open()
        except psycopg.OperationalError as exc:
            raise self._unavailable() from exc

    def _open(self) -> psycopg.Connection[Any]:
        settings = self._settings
        params = dict(self._credentials.connect_params())
        return psycopg.connect(
            params.pop("conninfo", ""),
            autocommit=True,
            prepare_threshold=None,
            connect_timeout=settings.connect_timeout_s,
            tcp_user_timeout=settings.tcp_user_timeout_ms,
            keepalives=1,
            keepalives_idle=30,
            application_name=settings.application_name,
            **params,
        )

    def _unavailable(self) -> DatabaseUnavailable:
        return DatabaseUnavailable(self._retry_after_s)

    def connection(self) -> tuple[psycopg.Connection[Any], bool]:
        """The live connection, and whether it was just opened."""
        conn = self._conn
        if conn is not None and not conn.closed and not _peer_has_spoken(conn):
            return conn, False
        self.close()
        self._conn = self._connect()
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
        """Run one statement and return its rows.

        A statement that fails because the connection died is retried once on a new
        connection when it is idempotent; an insert is not, as it may have committed.
        """
        conn, fresh = self.connection()
        try:
            return self._run(conn, query, params, row_factory)
        except psycopg.OperationalError as exc:
            if not self._connection_lost(conn, exc):
                raise self._unavailable() from exc
            self.close()
            if fresh or not idempotent:
                raise self._unavailable() from exc
        conn, _ = self.connection()
        try:
            return self._run(conn, query, params, row_factory)
        except psycopg.OperationalError as exc:
            if self._connection_lost(conn, exc):
                self.close()
            raise self._unavailable() from exc

    @staticmethod
    def _run(
        conn: psycopg.Connection[Any],
        query: str,
        params: Params,
        row_factory: RowFactory[Row],
    ) -> list[Row]:
        # Client-side binding: one simple Query message, nothing for a proxy to pin, and measured
        # 180-280 us faster than server-side binding on every operation (bench/README.md).
        with psycopg.ClientCursor(conn, row_factory=row_factory) as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description is not None else []

    @staticmethod
    def _connection_lost(conn: psycopg.Connection[Any], exc: psycopg.OperationalError) -> bool:
        # A statement timeout (QueryCanceled) leaves the connection usable; a lost one is broken.
        return conn.broken or conn.closed or isinstance(exc, psycopg.errors.AdminShutdown)
