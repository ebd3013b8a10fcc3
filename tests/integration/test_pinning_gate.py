"""The pinning gate: what the product sends to PostgreSQL, recorded by a relay on the wire, holds
nothing that would pin an RDS Proxy connection or leak session state through a transaction
pooler (tests/support/pinning.py): on the success path of every operation and on its failure
paths (a constraint violation, a statement timeout, killed connections and the reconnects after
them, a lost reply, a deadline).

To gate a new operation or path, add a function to SCENARIOS with `@scenario`: it gets a `Wire`
(the API and a Database through the relay, a user of its own) and asserts its own outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from local.devdb.database import migrated, scratch_database
from local.devdb.pgwire import Message, Relay, statement_of
from local.template import Function
from tasks_core import repository
from tasks_core import sql as statements
from tasks_core.db import Database
from tasks_core.models import TaskCreate
from tests.integration.conftest import make_database
from tests.support.api import InProcessApi
from tests.support.contract import assert_error
from tests.support.lambda_runtime import TimedApi, functions_use_database
from tests.support.pinning import pinning_problems, statements_of

# The gate's database has a short statement_timeout, so the timeout path takes a second.
STATEMENT_TIMEOUT = "1s"


@dataclass(frozen=True)
class GateDatabase:
    """The gate's own database: directly (for the test's own statements) and as the API reaches it."""

    direct: str
    pooled: str


@dataclass
class Wire:
    """What a scenario works with: everything on the product's side goes through `relay`."""

    relay: Relay
    api: InProcessApi  # the functions of template.yaml, invoked in this process
    db: Database  # the layer's Database, for paths the API cannot take (a constraint violation)
    functions: dict[str, Function]
    user_id: str
    admin_url: str  # the gate's database, directly: not recorded

    @property
    def tasks(self) -> str:
        """The user's collection path."""
        return f"/users/{self.user_id}/tasks"

    def create(self, title: str = "gated", **fields: Any) -> dict[str, Any]:
        """Create a task through the API; its JSON."""
        response = self.api.post(self.tasks, {"title": title, **fields})
        assert response.status == 201, response.body
        task: dict[str, Any] = response.json()
        return task

    def path(self, task: dict[str, Any]) -> str:
        """A task's path."""
        return f"{self.tasks}/{task['id']}"


Scenario = Callable[[Wire], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(function: Scenario) -> Scenario:
    """Register a scenario of the gate under its function's name."""
    SCENARIOS[function.__name__] = function
    return function


# Success paths of every operation.


@scenario
def create(wire: Wire) -> None:
    task = wire.create("created", description="d", completed=True)
    assert task["completed"] is True


@scenario
def list_pages_and_filter(wire: Wire) -> None:
    for index in range(3):
        wire.create(f"t{index}", completed=index == 1)
    first = wire.api.get(f"{wire.tasks}?limit=2")
    assert first.status == 200
    assert len(first.json()) == 2
    link = first.header("link")
    assert link is not None
    following = wire.api.get(link[1 : link.index(">")])
    assert [task["title"] for task in following.json()] == ["t2"]
    done = wire.api.get(f"{wire.tasks}?completed=true")
    assert [task["title"] for task in done.json()] == ["t1"]


@scenario
def get(wire: Wire) -> None:
    task = wire.create()
    assert wire.api.get(wire.path(task)).json() == task


@scenario
def get_missing(wire: Wire) -> None:
    assert_error(wire.api.get(f"{wire.tasks}/999999999"), 404, "not_found")


@scenario
def put_patch_and_empty_patch(wire: Wire) -> None:
    task = wire.create()
    assert wire.api.put(wire.path(task), {"title": "put"}).json()["title"] == "put"
    assert wire.api.patch(wire.path(task), {"completed": True}).json()["completed"] is True
    assert wire.api.patch(wire.path(task), {}).status == 200


@scenario
def delete(wire: Wire) -> None:
    task = wire.create()
    assert wire.api.delete(wire.path(task)).status == 200
    assert_error(wire.api.delete(wire.path(task)), 404, "not_found")


@scenario
def keyed_create_replay_and_reuse(wire: Wire) -> None:
    key = {"Idempotency-Key": "gate-key"}
    first = wire.api.post(wire.tasks, {"title": "keyed"}, headers=key)
    assert first.status == 201
    again = wire.api.post(wire.tasks, {"title": "keyed"}, headers=key)
    assert (again.status, again.body, again.header("idempotent-replayed")) == (201, first.body, "true")
    assert_error(wire.api.post(wire.tasks, {"title": "other"}, headers=key), 422, "idempotency_key_reused")


@scenario
def conditional_get_update_and_delete(wire: Wire) -> None:
    created = wire.api.post(wire.tasks, {"title": "tagged"})
    path, tag = created.header("location"), created.header("etag")
    assert path is not None
    assert tag is not None
    assert wire.api.get(path, headers={"If-None-Match": tag}).status == 304
    updated = wire.api.patch(path, {"completed": True}, headers={"If-Match": tag})
    assert updated.status == 200
    assert_error(wire.api.patch(path, {"title": "stale"}, headers={"If-Match": tag}), 412, "precondition_failed")
    assert_error(wire.api.delete(path, headers={"If-Match": tag}), 412, "precondition_failed")
    assert wire.api.delete(path, headers={"If-Match": updated.header("etag") or ""}).status == 200


@scenario
def keyed_create_whose_reply_is_lost(wire: Wire) -> None:
    assert wire.api.get("/health").status == 200  # warm: a statement is retried on a kept connection only
    lost = wire.relay.lose_reply(statement_of(statements.CREATE_TASK_WITH_KEY))
    created = wire.api.post(wire.tasks, {"title": "keyed, reply lost"}, headers={"Idempotency-Key": "lost"})
    assert created.status == 201  # run again on a new connection: the stored answer
    assert lost.fired == 1
    assert [task["id"] for task in wire.api.get(wire.tasks).json()] == [created.json()["id"]]


@scenario
def repeated_statements(wire: Wire) -> None:
    # psycopg prepares a statement on its 6th run by default (prepare_threshold=5).
    for index in range(8):
        task = wire.create(f"again {index}")
        assert wire.api.patch(wire.path(task), {"completed": True}).status == 200
        assert wire.api.get(wire.path(task)).status == 200


@scenario
def health(wire: Wire) -> None:
    assert wire.api.get("/health").json() == {"status": "ok", "database": "ok"}


# Failure paths: after an error psycopg may clean up (psycopg#1105: DEALLOCATE ALL on rollback).


@scenario
def constraint_violation(wire: Wire) -> None:
    # The API refuses such a title before the database sees it; the layer is called directly.
    padded = TaskCreate.model_construct(title=" padded", description=None, completed=False)
    with pytest.raises(psycopg.errors.CheckViolation):
        repository.create_task(wire.db, wire.user_id, padded)
    repository.ping(wire.db)
    assert wire.db.connection()[1] is False  # the same connection goes on


@scenario
def statement_timeout(wire: Wire) -> None:
    task = wire.create()
    connections = wire.relay.connections
    with psycopg.connect(wire.admin_url) as holder:
        holder.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task["id"],))
        assert_error(wire.api.patch(wire.path(task), {"title": "blocked"}), 503, "database_unavailable")
    assert wire.api.get(wire.path(task)).status == 200
    assert wire.relay.connections == connections  # a timeout keeps the connection


@scenario
def connection_killed_by_the_server_then_reconnect(wire: Wire) -> None:
    task = wire.create()
    with psycopg.connect(wire.admin_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    time.sleep(0.05)
    assert wire.api.get(wire.path(task)).status == 200


@scenario
def connection_dropped_by_a_proxy_then_reconnect(wire: Wire) -> None:
    task = wire.create()
    connections = wire.relay.connections
    wire.relay.cut_all()
    time.sleep(0.05)
    assert wire.api.get(wire.path(task)).status == 200
    assert wire.relay.connections == connections + 1


@scenario
def read_whose_reply_is_lost(wire: Wire) -> None:
    task = wire.create()
    lost = wire.relay.lose_reply(statement_of(statements.GET_TASK))
    assert wire.api.get(wire.path(task)).json() == task
    assert lost.fired == 1


@scenario
def create_whose_reply_is_lost(wire: Wire) -> None:
    lost = wire.relay.lose_reply(statement_of(statements.CREATE_TASK))
    assert_error(wire.api.post(wire.tasks, {"title": "unacknowledged"}), 503, "database_unavailable")
    assert lost.fired == 1
    assert [task["title"] for task in wire.api.get(wire.tasks).json()] == ["unacknowledged"]


@scenario
def deadline(wire: Wire) -> None:
    task = wire.create()
    stalled = wire.relay.stall(statement_of(statements.GET_TASK))
    late = TimedApi(wire.functions, timeout_s=3.5)  # 2.5 s to the deadline
    assert_error(late.get(wire.path(task)), 503, "database_unavailable")
    assert stalled.fired == 1
    assert wire.api.get(wire.path(task)).status == 200


@pytest.fixture(scope="module")
def gate_database(server_url: str, pooled: Callable[[str], str]) -> Iterator[GateDatabase]:
    with scratch_database(server_url, prefix="tasks_gate") as url:
        urls = migrated(url)
        with psycopg.connect(urls.owner, autocommit=True) as conn:
            # The API role's own setting in this database only: it outranks the role's 5 s.
            conn.execute(
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET statement_timeout = {}").format(
                    sql.Identifier(str(conninfo_to_dict(urls.app)["user"])),
                    sql.Identifier(conn.info.dbname),
                    sql.Literal(STATEMENT_TIMEOUT),
                )
            )
        # The test's own statements as the owner (it may end others' backends); the API as its role.
        yield GateDatabase(direct=urls.owner, pooled=pooled(urls.app))


@pytest.mark.parametrize("run", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_nothing_that_pins_goes_over_the_wire(
    run: Scenario, gate_database: GateDatabase, functions: dict[str, Function], user_id: str
) -> None:
    with Relay(gate_database.pooled) as relay, functions_use_database(relay.conninfo):
        wire = Wire(
            relay, InProcessApi(functions), make_database(relay.conninfo), functions, user_id, gate_database.direct
        )
        try:
            run(wire)
        finally:
            wire.db.close()
        messages = relay.messages()
    assert any(message.sql for message in messages), "nothing reached the database"
    assert pinning_problems(messages) == []


def test_the_gate_sees_what_pins(server_url: str) -> None:
    # The same checks on a client that does pin: every kind of problem is reported. (Directly to
    # the server: PgBouncer, like RDS Proxy, refuses startup options.)
    with Relay(server_url) as relay:
        with psycopg.connect(relay.conninfo, prepare_threshold=0, options="-c lock_timeout=1000") as conn:
            conn.execute("SELECT %s::int", (1,))  # prepared at once: a named Parse
            conn.rollback()  # psycopg#1105: the next statement is preceded by DEALLOCATE ALL
            psycopg.ClientCursor(conn).execute("SET application_name = 'pinned'; SELECT 1")  # a simple Query
            conn.execute("SELECT pg_advisory_lock(42), set_config('app.x', 'y', false)")
            conn.execute("LISTEN channel")
            conn.execute("CREATE TEMP TABLE scratch (i int)")
            conn.rollback()
        problems = pinning_problems(relay.messages())
    found = "\n".join(problems)
    for expected in (
        "startup options '-c lock_timeout=1000'",
        "named prepared statement '_pg3_0'",
        "DEALLOCATE: 'DEALLOCATE ALL'",
        "SET: \"SET application_name = ''\"",
        "pg_advisory_lock(",
        "set_config(",
        "LISTEN: 'LISTEN channel'",
        "CREATE TEMP",
    ):
        assert expected in found, (expected, problems)


def test_the_gate_reads_sql_not_data() -> None:
    # SET in a literal, in a quoted name or as part of UPDATE is not a session command.
    assert statements_of("UPDATE t SET a = 'x; SET y' -- SET z\n") == ["UPDATE t SET a = ''"]
    assert statements_of("SELECT 1 -- it's\n; LISTEN x") == ["SELECT 1", "LISTEN x"]
    quiet = [
        "UPDATE tasks SET title = 'LISTEN; DISCARD ALL' WHERE id = 1",
        'SELECT "set" FROM t',
        "SELECT 'pg_advisory_lock(1)'",
    ]
    assert pinning_problems([Message("Q", text.encode() + b"\0") for text in quiet]) == []
