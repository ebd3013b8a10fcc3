"""The floor: each operation's SQL statement (the product's own, from tasks_core.repository) run
with psycopg directly, on one autocommit connection, rows as tuples.

This is what PostgreSQL and the driver cost with no HTTP handling, validation or serialization:
the least an operation can take. Binding is psycopg's default (server-side, extended protocol,
never prepared), as the product uses; `ClientCursor` (client-side binding, one simple-protocol
Query message) is measured beside it to choose between them.
"""

from __future__ import annotations

from typing import Any

import psycopg

from tasks_core import sql

Params = dict[str, Any]


def connect(conninfo: str) -> psycopg.Connection[Any]:
    """A connection with the product's rules: autocommit, never prepare."""
    return psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)


def run(conn: psycopg.Connection[Any], query: str, params: Params, *, client_side: bool = False) -> list[Any]:
    """One statement, its rows."""
    cursor = psycopg.ClientCursor(conn) if client_side else conn.cursor()
    with cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description is not None else []


def create(conn: psycopg.Connection[Any], user_id: str, *, client_side: bool = False) -> int:
    """Insert a task; its id."""
    params = {"user_id": user_id, "title": "Buy milk", "description": "2 litres", "completed": False}
    return int(run(conn, sql.CREATE_TASK, params, client_side=client_side)[0][0])


def get(conn: psycopg.Connection[Any], user_id: str, task_id: int, *, client_side: bool = False) -> list[Any]:
    """One task's row."""
    return run(conn, sql.GET_TASK, {"user_id": user_id, "task_id": task_id}, client_side=client_side)


def list_page(conn: psycopg.Connection[Any], user_id: str, limit: int, *, client_side: bool = False) -> list[Any]:
    """A page as the product reads it: its JSON body made by PostgreSQL (one more row is read)."""
    params = {"user_id": user_id, "after_id": 0, "completed": None, "fetch": limit + 1, "limit": limit}
    return run(conn, sql.LIST_TASKS_JSON, params, client_side=client_side)


def update_params(user_id: str, task_id: int) -> dict[str, Any]:
    """UPDATE_TASK's parameters for the benchmark's update body: `title` and `completed` set."""
    return {
        "user_id": user_id,
        "task_id": task_id,
        "title": "Buy oat milk",
        "description": None,
        "completed": True,
        "set_title": True,
        "set_description": False,
        "set_completed": True,
        "if_match": None,
    }


def update(conn: psycopg.Connection[Any], user_id: str, task_id: int, *, client_side: bool = False) -> list[Any]:
    """Set `completed` and `title`, as the benchmark's update body does."""
    return run(conn, sql.UPDATE_TASK, update_params(user_id, task_id), client_side=client_side)


def delete(conn: psycopg.Connection[Any], user_id: str, task_id: int, *, client_side: bool = False) -> list[Any]:
    """Delete a task."""
    params = {"user_id": user_id, "task_id": task_id, "if_match": None}
    return run(conn, sql.DELETE_TASK, params, client_side=client_side)
