"""Throughput over HTTP: the local runtime (`python -m local serve`) against the lambdalith served
by uvicorn with 1 and 2 workers, for create and get at several concurrencies.

The local runtime lives on another branch until it is merged: when `python -m local serve`
is not there, its rows say "not available" and everything else still runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from local.template import PROJECT_ROOT

from .loadgen import Load, combine, measure
from .workload import request

HOST = "127.0.0.1"
LOCAL_RUNTIME = "local runtime"


@dataclass(frozen=True)
class Server:
    """A server to start: its name and command (`{port}` is filled in)."""

    name: str
    command: list[str]
    environment: dict[str, str]


def local_runtime_available() -> bool:
    """Whether this checkout has `python -m local serve`."""
    if not (PROJECT_ROOT / "local" / "__main__.py").exists():
        return False
    probe = subprocess.run(
        [sys.executable, "-m", "local", "serve", "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return probe.returncode == 0


def servers(conninfo: str, environment: Mapping[str, str], *, with_local_runtime: bool) -> list[Server]:
    """The servers to compare."""
    found = []
    if with_local_runtime:
        command = [sys.executable, "-m", "local", "serve", "--host", HOST, "--port", "{port}", "--no-reload"]
        found.append(Server(LOCAL_RUNTIME, command, {**environment, "DATABASE_URL": conninfo}))
    for workers in (1, 2):
        command = [sys.executable, "-m", "uvicorn", "bench.baselines.lambdalith:app", "--host", HOST]
        command += ["--port", "{port}", "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
        # A few connections per worker: uvicorn serves many requests at once in one process.
        found.append(Server(f"lambdalith uvicorn x{workers}", command, {**environment, "LAMBDALITH_POOL_SIZE": "4"}))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"no answer on port {port} within {timeout_s} s")


@contextmanager
def running(server: Server) -> Iterator[int]:
    """Start the server in its own process group; its port; stop it (that group only) after."""
    port = _free_port()
    command = [part.replace("{port}", str(port)) for part in server.command]
    process = subprocess.Popen(  # noqa: S603  # our own interpreter and arguments
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, **server.environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_ready(port, process)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def throughput(
    conninfo: str,
    environment: Mapping[str, str],
    task_id: int,
    *,
    concurrencies: tuple[int, ...],
    seconds: float,
    rounds: int,
    with_local_runtime: bool,
) -> dict[str, Any]:
    """Per server, operation and concurrency: requests per second and latency (ms)."""
    loads = {}
    for operation in ("create", "get"):
        req = request(operation, task_id)
        loads[operation] = Load(req.method, req.path, req.body, req.status)
    contenders = servers(conninfo, environment, with_local_runtime=with_local_runtime)
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    with ExitStack() as stack:
        ports = {server.name: stack.enter_context(running(server)) for server in contenders}
        for port in ports.values():  # warm every worker: connections, caches
            for load in loads.values():
                measure(HOST, port, load, max(concurrencies), seconds=min(seconds, 0.5))
        for round_number in range(rounds):
            for operation, load in loads.items():
                for concurrency in concurrencies:
                    shift = round_number % len(contenders)
                    for server in contenders[shift:] + contenders[:shift]:
                        run = measure(HOST, ports[server.name], load, concurrency, seconds)
                        runs.setdefault((server.name, operation, concurrency), []).append(run)
    results: dict[str, Any] = {}
    for (name, operation, concurrency), found in runs.items():
        results.setdefault(name, {}).setdefault(operation, {})[str(concurrency)] = combine(found)
    return results
