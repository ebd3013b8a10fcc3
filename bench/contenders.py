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
from .workload import LIST_SIZE, Request, floor_statement, request

Call = Callable[[], Any]


class Contender(Protocol):
    """Runs one operation per call."""

    name: str

    def prepare(self, operation: str, task_id: int) -> Call:
        """The operation, ready to run and be timed."""
        ...

    def check(self, operation: str, result: Any) -> int | None:
        """Raise unless the operation worked; the created task's id for create."""
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


def _check_response(result: Any, status: int, operation: str) -> int | None:
    if result.get("statusCode") != status:
        raise RuntimeError(f"{operation} answered {result.get('statusCode')}: {result.get('body')}")
    if operation == "list":
        _check_page(result["body"])
    return int(json.loads(result["body"])["id"]) if operation == "create" else None


class Ours:
    """The product (or any template's functions): the function of a route, invoked as Lambda would."""

    name = "ours"

    def __init__(self, functions: Mapping[str, Function]) -> None:
        self.functions = functions
        self.router = Router(all_routes(functions))

    def prepare(self, operation: str, task_id: int) -> Call:
        return self.prepare_request(request(operation, task_id))

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

    def check(self, operation: str, result: Any) -> int | None:
        return _check_response(result, request(operation, 1).status, operation)


class Lambdalith:
    """FastAPI + SQLModel in one app under Mangum, with the same events."""

    name = "lambdalith"

    def __init__(self) -> None:
        from .baselines import lambdalith  # noqa: PLC0415  # reads its URL from the environment at import

        self.handler = lambdalith.lambda_handler

    def prepare(self, operation: str, task_id: int) -> Call:
        req = request(operation, task_id)
        event = req.event()
        context: Any = LambdaContext("Lambdalith", 512, 10)  # the attributes Mangum reads
        handler = self.handler
        return lambda: handler(event, context)

    def check(self, operation: str, result: Any) -> int | None:
        return _check_response(result, request(operation, 1).status, operation)


class Floor:
    """The operation's one statement with psycopg: server-side binding, or client-side."""

    def __init__(self, conninfo: str, *, client_side: bool = False) -> None:
        self.name = "floor_client_cursor" if client_side else "floor"
        self.client_side = client_side
        self.conn = floor.connect(conninfo)

    def prepare(self, operation: str, task_id: int) -> Call:
        query, params = floor_statement(operation, task_id)
        conn, client_side = self.conn, self.client_side
        return lambda: floor.run(conn, query, params, client_side=client_side)

    def check(self, operation: str, result: Any) -> int | None:
        if operation in ("get", "update", "delete", "create", "list") and len(result) != 1:
            raise RuntimeError(f"{operation} returned {len(result)} rows")
        if operation == "list":
            _check_page(result[0][0])
        return int(result[0][0]) if operation == "create" else None


def all_contenders(conninfo: str) -> list[Contender]:
    """Every in-process contender, configured for the database at `conninfo`."""
    os.environ.update(environment(conninfo))
    return [Ours(product_functions(conninfo)), Lambdalith(), Floor(conninfo), Floor(conninfo, client_side=True)]
