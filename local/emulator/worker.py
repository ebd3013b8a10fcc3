"""One Lambda execution environment: a process that imports a function's handler once (the cold
start) and then serves invocations, one at a time, for the gateway that started it.

Run as `python -m local.emulator.worker CONFIG_JSON FD` by `local.emulator.pool`; FD is this end of a socket pair.
The process has the function's environment only (set by the pool) and Lambda's import path:
the function's code folder, then its layers (what /opt/python holds in Lambda), and its code
folder as working directory.

With `"snapshot": true` in CONFIG the process is a function's snapshot instead (SnapStart): it
initializes once, runs the before-snapshot hooks, and then forks a worker for each environment
the pool asks for (local/emulator/snapshot_process.py); each fork runs the after-restore hooks and
serves invocations like any worker.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import secrets
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.emulator import protocol, snapshot_process
from local.emulator.context import LambdaContext

PROJECT_ROOT = Path(__file__).resolve().parents[2]

Handler = Callable[[Any, Any], Any]


def _lambda_path(code_uri: str, layers: list[str]) -> None:
    # The project root (where `-m local.emulator.worker` started) is not on Lambda's path: drop it.
    kept = [entry for entry in sys.path if Path(entry or ".").resolve() != PROJECT_ROOT]
    sys.path[:] = [code_uri, *layers, *kept]
    os.chdir(code_uri)


class HandlerNotFound(Exception):
    """The module has no such handler (Lambda's Runtime.HandlerNotFound)."""


def _import_handler(handler: str) -> Handler:
    """Import `module.function` as Lambda's Python runtime does."""
    module_name, _, attribute = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise ImportError(f"Unable to import module '{module_name}': {exc}") from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise HandlerNotFound(f"Handler '{attribute}' missing on module '{module_name}'")
    return function  # type: ignore[no-any-return]


def _error(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    """The error payload Lambda's Python runtime returns (and logs) for an exception."""
    error = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }
    if request_id:
        error["requestId"] = request_id
    return error


def _log_error(error: dict[str, Any]) -> None:
    # The same record Lambda's runtime writes to the function's log.
    trace = "".join(error["stackTrace"])
    sys.stderr.write(
        f"[ERROR] {error['errorType']}: {error['errorMessage']}\nTraceback (most recent call last):\n{trace}"
    )
    sys.stderr.flush()


def _max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # kilobytes on Linux


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


def initialize(config: dict[str, Any], sock: socket.socket, *, snapshot: bool = False) -> Handler | None:
    """The init phase: import the handler (and with a snapshot, run the before-snapshot hooks);
    tell the pool how it went. None when it failed (the error is logged, as Lambda logs it)."""
    started = time.perf_counter()
    _lambda_path(config["code_uri"], config["layers"])
    try:
        handler = _import_handler(config["handler"])
        if snapshot:
            snapshot_process.run_before_snapshot_hooks()
    except Exception as exc:  # noqa: BLE001  # whatever the init raises is reported, as Lambda does
        error = _error(exc)
        error["errorType"] = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else error["errorType"]
        _log_error(error)
        protocol.send(sock, {"ready": False, "error": error})
        return None
    protocol.send(sock, {"ready": True, "init_ms": (time.perf_counter() - started) * 1000})
    return handler


def answer_invocations(handler: Handler, config: dict[str, Any], sock: socket.socket) -> None:
    """Answer invocations, one at a time, until the gateway hangs up."""
    while True:
        try:
            request = protocol.receive(sock)
        except EOFError:
            return
        sock.sendall(_invoke(handler, config, request))


def restore(handler: Handler, config: dict[str, Any], sock: socket.socket) -> None:
    """A fork of the snapshot: run the after-restore hooks, tell the pool, then serve."""
    started = time.perf_counter()
    try:
        snapshot_process.run_after_restore_hooks()
    except Exception as exc:  # noqa: BLE001  # a failing hook fails this environment, as in Lambda
        error = _error(exc)
        _log_error(error)
        protocol.send(sock, {"ready": False, "error": error})
        return
    hooks_ms = (time.perf_counter() - started) * 1000
    protocol.send(sock, {"ready": True, "pid": os.getpid(), "hooks_ms": hooks_ms})
    answer_invocations(handler, config, sock)


def serve(config: dict[str, Any], sock: socket.socket) -> None:
    """Import the handler, report ready, then answer invocations until the gateway hangs up."""
    if config.get("snapshot"):
        snapshot = initialize(config, sock, snapshot=True)
        if snapshot is not None:
            snapshot_process.fork_workers(sock, lambda worker_sock: restore(snapshot, config, worker_sock))
        return
    handler = initialize(config, sock)
    if handler is not None:
        answer_invocations(handler, config, sock)


def _invoke(handler: Handler, config: dict[str, Any], request: dict[str, Any]) -> bytes:
    """Run one invocation; the framed reply (what cannot be marshalled is the function's error)."""
    request_id = request["request_id"]
    os.environ["_X_AMZN_TRACE_ID"] = _trace_id()
    context = LambdaContext(
        config["function_name"], config["memory_mb"], config["timeout_s"], aws_request_id=request_id
    )
    started = time.perf_counter()
    reply: dict[str, Any]
    try:
        reply = {"ok": True, "result": handler(request["event"], context)}
    except Exception as exc:  # noqa: BLE001  # whatever the handler raises is the function's error
        reply = {"ok": False, "error": _error(exc, request_id)}
        _log_error(reply["error"])
    reply["duration_ms"] = (time.perf_counter() - started) * 1000
    reply["max_memory_mb"] = _max_memory_mb()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return protocol.encode(reply)
    except (TypeError, ValueError) as exc:
        error = {**_error(exc, request_id), "errorType": "Runtime.MarshalError"}
        error["errorMessage"] = f"Unable to marshal response: {exc}"
        _log_error(error)
        return protocol.encode({**reply, "ok": False, "result": None, "error": error})


def main(argv: list[str]) -> None:
    """Entry point: `python -m local.emulator.worker CONFIG_JSON FD`."""
    # Ctrl-C reaches the whole process group; the gateway decides when its workers stop. SIGINT
    # was blocked from the start (snapshot.launch): one sent since is dropped, not delivered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    config = json.loads(argv[1])
    with socket.socket(fileno=int(argv[2])) as sock:
        serve(config, sock)


if __name__ == "__main__":
    main(sys.argv)
