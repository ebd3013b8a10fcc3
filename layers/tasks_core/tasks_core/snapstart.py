"""Lambda SnapStart: what runs before the snapshot, and after each restore (docs/snapstart.md).

With SnapStart on, Lambda initializes a function once, when a version is published, snapshots the
initialized environment, and starts every new execution environment of that version by restoring
the snapshot. Two runtime hooks of `snapshot_restore_py` make that fast and safe:

- Before the snapshot, each function's resolver answers one request per route, built here, with
  the database refused (a 503 that no one sees, logs silenced): routing, the contract's request
  validation, the models' first validation, JSON encoding and the error path are then warm in the
  snapshot. In the AWS modes the SDK's modules are imported too. No connection is opened, no
  database object or credentials are made and no secret is fetched: they would be in the
  snapshot, shared by every environment restored from it.
- After each restore, `random` is seeded anew (otherwise every restored environment would draw
  the same numbers) and the environment's database, with its connection and credentials, is
  dropped if anything made one before the snapshot: the first request connects with its own.
  Both take microseconds, far inside the 10 s that Lambda gives the restore hooks.

`secrets`, `uuid.uuid4` and `os.urandom` read the kernel's randomness on every call: nothing of
theirs is in the snapshot. Without SnapStart the hooks are registered and never run.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from . import credentials, environment
from .settings import get_settings

# Values that every path parameter of the API accepts (a user id and a task id alike).
WARM_UP_PATH_VALUE = "1"
WARM_UP_REQUEST_ID = "snapstart-warm-up"
# A body every create, PUT and PATCH validates in full: the database is reached, and refused.
WARM_UP_BODY = json.dumps({"title": "warm-up", "description": "warm-up", "completed": False})
_PATH_PARAMETER = re.compile(r"<(\w+)>")


def _runtime_hooks() -> ModuleType | None:
    """snapshot_restore_py, or None where it is not installed.

    The one place it is imported. Lambda's Python runtimes (3.12 and later) include it and it is
    never packaged in the layer; tests and `make run` install it from requirements-dev.txt. An
    environment without it has no snapshots either, so there is nothing to register.
    """
    try:
        import snapshot_restore_py  # type: ignore[import-untyped]  # noqa: PLC0415  # ships no type hints
    except ImportError:
        return None
    module: ModuleType = snapshot_restore_py
    return module


class Warmable(Protocol):
    """What the warm-up needs of a resolver (tasks_core.resolver.TaskResolver has it)."""

    @property
    def route_keys(self) -> list[tuple[str, str]]:
        """(method, rule) of every route, rules in Powertools' form (`/users/<user_id>/tasks`)."""
        ...

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Answer one API Gateway event."""
        ...


@dataclass(frozen=True)
class WarmUpContext:
    """The Lambda context of the warm-up's requests, which run outside any invocation."""

    function_name: str = WARM_UP_REQUEST_ID
    aws_request_id: str = WARM_UP_REQUEST_ID
    memory_limit_in_mb: int = 128

    def get_remaining_time_in_millis(self) -> int:
        """A fixed budget: the warm-up never waits for anything."""
        return 10_000


def warm_up_events(route_keys: Iterable[tuple[str, str]], user_id_claim: str = "sub") -> list[dict[str, Any]]:
    """One HTTP API (payload 2.0) event per route that passes every check before the database."""
    events = []
    for method, rule in route_keys:
        names = _PATH_PARAMETER.findall(rule)
        path = _PATH_PARAMETER.sub(WARM_UP_PATH_VALUE, rule)
        route_key = method + " " + _PATH_PARAMETER.sub(r"{\g<1>}", rule)  # as API Gateway writes it
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": "",
            "headers": {
                "content-type": "application/json",
                "idempotency-key": WARM_UP_REQUEST_ID,
                "if-match": '"warm-up"',
                "if-none-match": '"warm-up"',
            },
            "pathParameters": dict.fromkeys(names, WARM_UP_PATH_VALUE),
            "requestContext": {
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": WARM_UP_REQUEST_ID,
                },
                "requestId": WARM_UP_REQUEST_ID,
                "routeKey": route_key,
                "stage": "$default",
                "timeEpoch": 0,
                # With the JWT authorizer on, the path's user is the token's.
                "authorizer": {"jwt": {"claims": {user_id_claim: WARM_UP_PATH_VALUE}, "scopes": None}},
            },
            "isBase64Encoded": False,
        }
        if method in ("POST", "PUT", "PATCH"):
            event["body"] = WARM_UP_BODY
        events.append(event)
    return events


@contextmanager
def _logs_silenced() -> Iterator[None]:
    # The refused database is a 503 that the resolver logs as a warning: noise at every publish.
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def warm_up(resolver: Warmable) -> list[int]:
    """Answer one request per route with the database refused; the status codes (tests read them)."""
    settings = get_settings()
    credentials.import_clients(settings.database)
    statuses = []
    with environment.database_refused(), _logs_silenced():
        for event in warm_up_events(resolver.route_keys, settings.auth.user_id_claim):
            statuses.append(int(resolver.resolve(event, WarmUpContext())["statusCode"]))
    return statuses


def after_restore() -> None:
    """Give this environment what must be its own: a fresh random seed, its own connection."""
    random.seed()  # from os.urandom
    environment.forget()


def prepare(resolver: Warmable) -> bool:
    """Warm this resolver before the snapshot; False when there is no SnapStart runtime here."""
    if _HOOKS is None:
        return False
    _HOOKS.register_before_snapshot(warm_up, resolver)
    return True


_HOOKS = _runtime_hooks()
# Registered once, when the first resolver of the process imports this module: after-restore
# hooks run in the order they were registered, so a function's own hooks find the reset done.
if _HOOKS is not None:
    _HOOKS.register_after_restore(after_restore)
