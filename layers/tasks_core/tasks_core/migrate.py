"""Schema migrations: versioned .sql files applied once each, in order, in one transaction.

The runner holds a transaction-scoped advisory lock (`pg_advisory_xact_lock`), so two runners
at once on one database (two deploys, a deploy and a developer) apply each file exactly once:
the second waits, then sees the first one's work. A session-level lock would pin an RDS Proxy
connection; this one ends with the transaction.

Advisory locks belong to one database, but roles belong to the whole cluster: runners on two
databases of one server (test sessions, two stages on one cluster) can change the same role at
once, and PostgreSQL then fails the later one ("tuple concurrently updated", or a duplicate key
when both create the same role or role setting). No cluster-wide lock is open to a role that is
not a superuser (RDS's master user is not), so the whole migration transaction, which rolled
back, is run again after a random pause, a bounded number of times.

Migrations run as the owner: the role that connects here owns every table. They can read the
name of the API's role from `current_setting('tasks.app_role')` (migration 0003 creates it).
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from .credentials import credentials_for
from .settings import DatabaseSettings

logger = logging.getLogger(__name__)

# An arbitrary constant that names this project's migration lock.
MIGRATION_LOCK_KEY = 0x7461736B73  # "tasks"

# The role the API functions connect as, unless configured otherwise (DB_APP_ROLE; the
# template's DatabaseUser).
DEFAULT_APP_ROLE = "tasks_app"

# What a race between runners on one cluster raises: two updates of one catalog row ("tuple
# concurrently updated" is an internal error, XX000, with no code of its own), two inserts of
# one role or role setting (unique_violation, duplicate_object), and, for completeness, a
# serialization failure or deadlock. Anything else is a real failure and is raised at once; a
# real failure with one of these codes fails the same way on every attempt and is then raised.
RETRYABLE_SQLSTATES = frozenset({"XX000", "23505", "42710", "40001", "40P01"})
MAX_ATTEMPTS = 10
# The pause after attempt n is a random fraction ("full jitter") of min(2 s, 50 ms x 2^n), so
# runners that collided do not collide again in step.
FIRST_PAUSE_S = 0.05
LONGEST_PAUSE_S = 2.0

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


def _apply_pending(conn: psycopg.Connection[Any], app_role: str) -> list[str]:
    """One attempt: every pending file in one transaction; the versions it applied."""
    applied_now: list[str] = []
    with conn.transaction():
        # Role defaults (0002) must not cut a long migration short, nor the wait for the lock.
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SET LOCAL lock_timeout = 0")
        # Data, never spliced into SQL: migrations quote it themselves (format('%I', ...)).
        conn.execute("SELECT set_config('tasks.app_role', %s, true)", (app_role,))
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


def apply_migrations(
    conn: psycopg.Connection[Any],
    app_role: str = DEFAULT_APP_ROLE,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Apply the pending migrations; return the versions applied by this call."""
    attempt = 1
    while True:
        try:
            return _apply_pending(conn, app_role)
        except psycopg.Error as exc:
            if exc.sqlstate not in RETRYABLE_SQLSTATES or attempt >= max_attempts or conn.closed:
                raise
            pause = random.uniform(0, min(LONGEST_PAUSE_S, FIRST_PAUSE_S * 2**attempt))  # noqa: S311  # jitter, not a secret
            logger.warning(
                "migration attempt %d of %d collided with another runner (%s: %s); again in %.2f s",
                attempt,
                max_attempts,
                exc.sqlstate,
                exc.diag.message_primary,
                pause,
            )
            sleep(pause)
            attempt += 1


def migrate(conninfo: str, app_role: str = DEFAULT_APP_ROLE) -> list[str]:
    """Connect with a connection string (as the owner), apply pending migrations, disconnect."""
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        return apply_migrations(conn, app_role)


def migrate_database(settings: DatabaseSettings) -> list[str]:
    """Apply pending migrations to the configured database, connected as the owner it names."""
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
        return apply_migrations(conn, settings.app_role)


if __name__ == "__main__":
    # `python -m tasks_core.migrate`: migrate the database the environment configures.
    from .settings import get_settings

    applied = migrate_database(get_settings().database)
    sys.stdout.write("applied: " + (", ".join(applied) or "nothing, the schema is up to date") + "\n")
