"""Schema migrations: versioned .sql files applied once each, in order, in one transaction.

The runner holds a transaction-scoped advisory lock (`pg_advisory_xact_lock`), so two runners
at once (two deploys, a deploy and a developer) apply each file exactly once: the second waits,
then sees the first one's work. A session-level lock would pin an RDS Proxy connection; this one
ends with the transaction.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from .credentials import credentials_for
from .settings import DatabaseSettings

# An arbitrary constant that names this project's migration lock.
MIGRATION_LOCK_KEY = 0x7461736B73  # "tasks"

_SETUP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One versioned file: `0001_initial.sql` has version `0001_initial`."""

    version: str
    sql: str


def available_migrations() -> list[Migration]:
    """The migration files shipped in this package, in version order."""
    folder = resources.files(__package__).joinpath("migrations")
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [Migration(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8")) for entry in files]


def apply_migrations(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the pending migrations; return the versions applied by this call."""
    applied_now: list[str] = []
    with conn.transaction():
        # Role defaults (0002) must not cut a long migration short, nor the wait for the lock.
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SET LOCAL lock_timeout = 0")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(_SETUP)
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in available_migrations():
            if migration.version in done:
                continue
            conn.execute(migration.sql.encode())
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (migration.version,))
            applied_now.append(migration.version)
    return applied_now


def migrate(conninfo: str) -> list[str]:
    """Connect with a connection string, apply pending migrations, disconnect."""
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        return apply_migrations(conn)


def migrate_database(settings: DatabaseSettings) -> list[str]:
    """Apply pending migrations to the configured database, with the API's own credentials."""
    params = dict(credentials_for(settings).connect_params())
    conninfo = params.pop("conninfo", "")
    with psycopg.connect(
        conninfo,
        autocommit=True,
        prepare_threshold=None,
        connect_timeout=settings.connect_timeout_s,
        application_name=f"{settings.application_name}-migrate",
        **params,
    ) as conn:
        return apply_migrations(conn)


if __name__ == "__main__":
    # `python -m tasks_core.migrate`: migrate the database the environment configures.
    from .settings import get_settings

    applied = migrate_database(get_settings().database)
    sys.stdout.write("applied: " + (", ".join(applied) or "nothing, the schema is up to date") + "\n")
