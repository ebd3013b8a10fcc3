"""The relay's round-trip count (local/devdb/pgwire.py), which `make bench` reports per operation:
one per statement a client waits for, whatever the driver sends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg

from local.devdb.pgwire import Relay


def counted(server_url: str, work: Callable[[psycopg.Connection[Any]], object]) -> tuple[int, Counter[str]]:
    """Round trips and the client's typed messages of `work` on a connection already open."""
    with Relay(server_url) as wire, psycopg.connect(wire.conninfo, prepare_threshold=None) as conn:
        conn.execute("SELECT 1")  # the connection's own start is not counted
        conn.commit()
        trips, sent = wire.round_trips, len(wire.messages())
        work(conn)
        return wire.round_trips - trips, Counter(m.kind for m in wire.messages()[sent:] if m.kind)


def test_a_client_side_bound_statement_is_one_query_and_one_round_trip(server_url: str) -> None:
    def work(conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        with psycopg.ClientCursor(conn) as cursor:
            cursor.execute("SELECT %s::int", (1,))
            assert cursor.fetchall() == [(1,)]

    assert counted(server_url, work) == (1, Counter({"Q": 1}))


def test_a_server_side_bound_statement_is_one_round_trip_of_five_messages(server_url: str) -> None:
    def work(conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        assert conn.execute("SELECT %s::int", (1,)).fetchall() == [(1,)]

    assert counted(server_url, work) == (1, Counter({"P": 1, "B": 1, "D": 1, "E": 1, "S": 1}))


def test_a_transaction_counts_its_begin_and_commit(server_url: str) -> None:
    def work(conn: psycopg.Connection[Any]) -> None:
        with psycopg.ClientCursor(conn) as cursor:
            cursor.execute("SELECT 1")
        conn.commit()

    trips, messages = counted(server_url, work)
    assert trips == 3  # BEGIN, the SELECT, COMMIT: each waited for
    assert messages == Counter({"Q": 3})
