"""The contenders of the in-process measures, each able to run any operation once.

- ours: the template's functions, their real `lambda_handler`, with payload 2.0 events;
- lambdalith: the FastAPI + SQLModel app under Mangum, with the same events;
- floor: the product's SQL statement per operation with psycopg, and the same with
  `ClientCursor` (client-side binding) to choose between the two.

`prepare` does everything that is not the operation itself (building the event, the context),
so that only the returned call is timed; `check` verifies the answer afterwards.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from local.emulator.context import LambdaContext
from local.emulator.loader import load_handler
from local.gateway.payload import Router
from local.template import Function, all_routes, load_functions

from .baselines import floor
from .pg import sqlalchemy_url
from .workload import LIST_SIZE, OPERATIONS, WARM_OPERATIONS, Request, floor_statement, request, status

Call = Callable[[], Any]
# What `check` answers for the operations whose task later ones follow: its id and latest ETag.
Answer = tuple[int, str] | None
FOLLOWED = ("create", "create_keyed", "update_if_match")
# The floor's two contenders: psycopg's two bindings. A target takes the faster: whichever the
# product uses, the other is within its reach.
FLOORS = ("floor", "floor_client_cursor")


class Contender(Protocol):
    """Runs one operation per call."""

    name: str
    operations: tuple[str, ...]  # those of workload.WARM_OPERATIONS it serves

    def prepare(self, operation: str, task_id: int, etag: str | None = None) -> Call:
        """The operation, ready to run and be timed."""
        ...

    def check(self, operation: str, result: Any) -> Answer:
        """Raise unless the operation worked; the task's id and ETag for those in FOLLOWED."""
        ...


def product_functions(conninfo: str) -> dict[str, Function]:
    """The functions of template.yaml, pointed at the database of `conninfo`."""
    return load_functions(parameters={"DatabaseUrl": conninfo})


def api_environment(functions: Mapping[str, Function]) -> dict[str, str]:
    """The variables of the API functions, which share one process here (the migrations
    function's name the owner instead)."""
    return {name: value for fn in functions.values() if fn.routes for name, value in fn.environment.items()}


def environment(conninfo: str) -> dict[str, str]:
    """What every contender is configured with: the template's variables and both URLs."""
    values = api_environment(product_functions(conninfo))
    values["LAMBDALITH_DATABASE_URL"] = sqlalchemy_url(conninfo)
    return values


def _check_page(page: str) -> None:
    """A list must answer the seeded page, or it measured less than it says."""
    if len(json.loads(page)) != LIST_SIZE:
        raise RuntimeError(f"list answered {len(json.loads(page))} tasks, not {LIST_SIZE}")


def _check_response(result: Any, operation: str) -> Answer:
    if result.get("statusCode") != status(operation):
        raise RuntimeError(f"{operation} answered {result.get('statusCode')}: {result.get('body')}")
    if operation == "list":
        _check_page(result["body"])
    if operation not in FOLLOWED:
        return None
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    return int(json.loads(result["body"])["id"]), str(headers.get("etag"))


class Ours:
    """The product (or any template's functions): the function of a route, invoked as Lambda would."""

    name = "ours"
    operations: tuple[str, ...] = WARM_OPERATIONS

    def __init__(self, functions: Mapping[str, Function]) -> None:
        self.functions = functions
        self.router = Router(all_routes(functions))

    def prepare(self, operation: str, task_id: int, etag: str | None = None) -> Call:
        return self.prepare_request(request(operation, task_id, etag))

    def prepare_request(self, req: Request) -> Call:
        """The request as an event to the handler of its route, ready to run and be timed."""
        match = self.router.match(req.method, req.path)
        if match is None:
            raise LookupError(f"no function serves {req.method} {req.path}")
        event = req.event(match)
        function = self.functions[match.route.function]
        handler = load_handler(function)
        # One context serves every timed call, however long the run: its time must not run out
        # (Lambda gives each invocation a fresh one; the database deadline reads what is left).
        context = LambdaContext(function.logical_id, function.memory_mb, timeout_s=24 * 3600)
        return lambda: handler(event, context)

    def check(self, operation: str, result: Any) -> Answer:
        return _check_response(result, operation)


class Lambdalith:
    """FastAPI + SQLModel in one app under Mangum, with the same events: the plain operations
    only, as it has no Idempotency-Key or ETags."""

    name = "lambdalith"
    operations: tuple[str, ...] = OPERATIONS

    def __init__(self) -> None:
        from .baselines import lambdalith  # noqa: PLC0415  # reads its URL from the environment at import

        self.handler = lambdalith.lambda_handler

    def prepare(self, operation: str, task_id: int, etag: str | None = None) -> Call:
        req = request(operation, task_id, etag)
        event = req.event()
        context: Any = LambdaContext("Lambdalith", 512, 10)  # the attributes Mangum reads
        handler = self.handler
        return lambda: handler(event, context)

    def check(self, operation: str, result: Any) -> Answer:
        answer = _check_response(result, operation)
        # It sends no ETag; the task's id is all the plain operations after create need.
        return (answer[0], "") if answer else None


class Floor:
    """The operation's one statement with psycopg: server-side binding, or client-side."""

    operations: tuple[str, ...] = WARM_OPERATIONS

    def __init__(self, conninfo: str, *, client_side: bool = False) -> None:
        self.name = "floor_client_cursor" if client_side else "floor"
        self.client_side = client_side
        self.conn = floor.connect(conninfo)

    def prepare(self, operation: str, task_id: int, etag: str | None = None) -> Call:
        query, params = floor_statement(operation, task_id, etag)
        conn, client_side = self.conn, self.client_side
        return lambda: floor.run(conn, query, params, client_side=client_side)

    def check(self, operation: str, result: Any) -> Answer:
        if len(result) != 1:
            raise RuntimeError(f"{operation} returned {len(result)} rows")
        row = result[0]
        if operation == "list":
            _check_page(row[0])
        elif (
            (operation == "create_keyed" and row[4] is not True)  # created, not replayed
            or (operation in ("update", "update_if_match") and row[1] is None)  # found (and its tag matched)
            or (operation in ("delete", "delete_if_match") and row[0] is not True)
        ):
            raise RuntimeError(f"{operation} did not do its work: {row}")
        if operation == "create_keyed":
            return int(row[0]), str(row[2])
        return (int(row[0]), str(row[1])) if operation in FOLLOWED else None


def all_contenders(conninfo: str) -> list[Contender]:
    """Every in-process contender, configured for the database at `conninfo`."""
    os.environ.update(environment(conninfo))
    return [Ours(product_functions(conninfo)), Lambdalith(), Floor(conninfo), Floor(conninfo, client_side=True)]
