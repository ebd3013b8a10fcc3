"""The benchmark's PostgreSQL: the embedded server (or DATABASE_URL's), a scratch database, migrated."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from local.devdb.database import EmbeddedPostgres, scratch_database
from tasks_core.migrate import migrate


@contextmanager
def server(server_url: str | None = None) -> Iterator[str]:
    """`server_url`, or an embedded server of its own in a temporary folder for the block."""
    if server_url is not None:
        yield server_url
        return
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as folder:
        embedded = EmbeddedPostgres(Path(folder) / "data", delete_on_stop=True)
        try:
            yield embedded.start()
        finally:
            embedded.stop()


@contextmanager
def bench_database(server_url: str | None = None) -> Iterator[str]:
    """A migrated scratch database on `server_url`, or on an embedded server of its own."""
    with server(server_url) as url, scratch_database(url, prefix="tasks_bench") as scratch:
        migrate(scratch)
        # Commits do not wait for the disk: a shared disk's fsync (milliseconds, and noisy) would
        # hide what the code costs, which is what the benchmark compares. Set on the database,
        # so every contender's sessions get it without a SET.
        with psycopg.connect(scratch, autocommit=True) as conn:
            name = conninfo_to_dict(scratch)["dbname"]
            conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(str(name))))
        yield scratch


def sqlalchemy_url(conninfo: str) -> str:
    """The same database as a SQLAlchemy asyncpg URL (Unix socket folder or TCP host)."""
    params = conninfo_to_dict(conninfo)
    user = quote(str(params.get("user", "postgres")))
    password = f":{quote(str(params['password']))}" if params.get("password") else ""
    dbname = quote(str(params.get("dbname", "postgres")))
    host = str(params.get("host", "localhost"))
    port = str(params.get("port", "5432"))
    if host.startswith("/"):
        return f"postgresql+asyncpg://{user}{password}@/{dbname}?host={quote(host)}&port={port}"
    return f"postgresql+asyncpg://{user}{password}@{host}:{port}/{dbname}"
