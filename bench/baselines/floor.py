"""The floor: each operation's SQL statement (the product's own, the constants of tasks_core.sql)
run with psycopg directly, on one autocommit connection, rows as tuples.

This is what PostgreSQL and the driver cost with no HTTP handling, validation or serialization:
the least an operation can take. It is measured with both of psycopg's bindings: its default,
server-side (extended protocol: Parse, Bind, Describe, Execute, Sync; never prepared), and
`ClientCursor` (client-side, one simple-protocol Query message), which the product uses since
these figures chose it (docs/performance.md). bench/workload.py holds the statements' parameters.
"""

from __future__ import annotations

from typing import Any

import psycopg

Connection = psycopg.Connection[Any]


def connect(conninfo: str) -> Connection:
    """A connection with the product's rules: autocommit, never prepare."""
    return psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)


def run(conn: Connection, query: str, params: dict[str, Any], *, client_side: bool = False) -> list[Any]:
    """One statement, its rows."""
    cursor = psycopg.ClientCursor(conn) if client_side else conn.cursor()
    with cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description is not None else []
