"""The two AWS APIs the pre-traffic hook calls, locally: Lambda's Invoke and CodeDeploy's
PutLifecycleEventHookExecutionStatus.

Invoke runs the named function in the local runtime (local.emulator.pool: a worker process per
environment, as `make run` and `python -m local invoke` run them, with the function's environment
from the template); the hook status is recorded for the test to read. boto3 reaches both at one
URL through AWS_ENDPOINT_URL_LAMBDA and AWS_ENDPOINT_URL_CODEDEPLOY (moto has no
PutLifecycleEventHookExecutionStatus, and runs Lambda functions in Docker only).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from local.emulator.pool import FunctionPool, Outcome, Status
from local.template import Function

INVOKE_PATH = "/2015-03-31/functions/"
HOOK_STATUS_TARGET = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"
ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"
# What the stand-in accepts; no real account is ever reached with them.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "standin", "AWS_SECRET_ACCESS_KEY": "standin", "AWS_REGION": "us-east-1"}


def version_arn(function: str, version: str = "7") -> str:
    """The ARN of a function's version, as `!Ref <Function>.Version` gives it."""
    return f"{ARN_PREFIX}{function}:{version}"


class LocalLambda:
    """Functions run by the local runtime's pools, in an event loop of its own thread."""

    def __init__(self, functions: Mapping[str, Function], output: int | None = None) -> None:
        self.functions = dict(functions)
        self._output = output
        self._pools: dict[str, FunctionPool] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-lambda", daemon=True)
        self._thread.start()

    def invoke(self, name: str, event: Any, timeout_s: float = 300.0) -> Outcome:
        """One invocation of a function, from any thread."""
        return asyncio.run_coroutine_threadsafe(self._invoke(name, event), self._loop).result(timeout_s)

    async def _invoke(self, name: str, event: Any) -> Outcome:
        pool = self._pools.get(name)
        if pool is None:
            function = self.functions[name]
            pool = self._pools[name] = FunctionPool(function, function.reserved_concurrency or 4, self._output)
        return await pool.invoke(event)

    def close(self) -> None:
        """Stop every worker, then the loop."""

        async def close_pools() -> None:
            await asyncio.gather(*(pool.close() for pool in self._pools.values()))

        asyncio.run_coroutine_threadsafe(close_pools(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@dataclass
class AwsStandIn:
    """What the stand-in was asked: invocations (function, qualifier) and hook statuses."""

    url: str = ""
    invocations: list[tuple[str, str | None]] = field(default_factory=list)
    hook_statuses: list[dict[str, Any]] = field(default_factory=list)
    # When set, PutLifecycleEventHookExecutionStatus answers this CodeDeploy error instead.
    codedeploy_error: str | None = None


def _split_function_name(name: str) -> tuple[str, str | None]:
    """`arn:...:function:NAME[:QUALIFIER]` or `NAME[:QUALIFIER]` as (NAME, QUALIFIER)."""
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6], parts[7] if len(parts) > 7 else None
    function, _, qualifier = name.partition(":")
    return function, qualifier or None


@contextmanager
def aws_standin(local: LocalLambda) -> Iterator[AwsStandIn]:
    """Serve Invoke (through `local`) and the hook status API on a free port until the block ends."""
    state = AwsStandIn()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the state instead."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            if path.startswith(INVOKE_PATH) and path.endswith("/invocations"):
                self._invoke(unquote(path[len(INVOKE_PATH) : -len("/invocations")]), body)
            elif self.headers.get("X-Amz-Target") == HOOK_STATUS_TARGET:
                self._hook_status(json.loads(body))
            else:
                self._reply(400, {"__type": "UnknownOperationException", "message": self.path}, {})

        def _invoke(self, name: str, body: bytes) -> None:
            function, qualifier = _split_function_name(name)
            state.invocations.append((function, qualifier))
            if function not in local.functions:
                error = {"Type": "User", "Message": f"Function not found: {name}"}
                self._reply(404, error, {"X-Amzn-ErrorType": "ResourceNotFoundException"})
                return
            outcome = local.invoke(function, json.loads(body or b"{}"))
            headers = {"X-Amz-Executed-Version": qualifier or "$LATEST"}
            if outcome.status is not Status.OK:
                headers["X-Amz-Function-Error"] = "Unhandled"
                self._reply(200, outcome.error, headers)
                return
            self._reply(200, outcome.result, headers)

        def _hook_status(self, request: dict[str, Any]) -> None:
            state.hook_statuses.append(request)
            if state.codedeploy_error is not None:
                error = {"__type": state.codedeploy_error, "message": "refused by the stand-in"}
                self._reply(400, error, {"Content-Type": "application/x-amz-json-1.1"})
                return
            answer = {"lifecycleEventHookExecutionId": request.get("lifecycleEventHookExecutionId")}
            self._reply(200, answer, {"Content-Type": "application/x-amz-json-1.1"})

        def _reply(self, status: int, document: Any, headers: Mapping[str, str]) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            for name, value in headers.items():
                if name != "Content-Type":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="aws-standin", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def endpoints(url: str) -> dict[str, str]:
    """The variables that send a function's boto3 calls to the stand-in."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL_LAMBDA": url, "AWS_ENDPOINT_URL_CODEDEPLOY": url}
