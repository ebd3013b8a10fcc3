"""Throughput over HTTP: the local runtime (`python -m local serve`) against the lambdalith served
by uvicorn with 1 and 2 workers, for create and get at several concurrencies.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from local.server_process import HOST, ServerProcess, free_port, serve_command

from .loadgen import Load, combine, measure
from .workload import request

LOCAL_RUNTIME = "local runtime"


def servers(conninfo: str, environment: Mapping[str, str]) -> dict[str, ServerProcess]:
    """The servers to compare, by name; each starts when entered."""
    found = {
        LOCAL_RUNTIME: ServerProcess(
            serve_command("--host", HOST, "--no-reload"), env={**environment, "DATABASE_URL": conninfo}
        )
    }
    for workers in (1, 2):
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "bench.baselines.lambdalith:app", "--host", HOST]
        command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
        # A few connections per worker: uvicorn serves many requests at once in one process.
        env = {**environment, "LAMBDALITH_POOL_SIZE": "4"}
        found[f"lambdalith uvicorn x{workers}"] = ServerProcess(command, env=env, port=port, ready_path="/health")
    return found


def throughput(
    conninfo: str,
    environment: Mapping[str, str],
    task_id: int,
    *,
    concurrencies: tuple[int, ...],
    seconds: float,
    rounds: int,
) -> dict[str, Any]:
    """Per server, operation and concurrency: requests per second and latency (ms)."""
    loads = {}
    for operation in ("create", "get"):
        req = request(operation, task_id)
        loads[operation] = Load(req.method, req.path, req.body, req.status)
    contenders = servers(conninfo, environment)
    names = list(contenders)
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    with ExitStack() as stack:
        ports = {name: stack.enter_context(server).port for name, server in contenders.items()}
        for port in ports.values():  # warm every worker: connections, caches
            for load in loads.values():
                measure(HOST, port, load, max(concurrencies), seconds=min(seconds, 0.5))
        for round_number in range(rounds):
            for operation, load in loads.items():
                for concurrency in concurrencies:
                    shift = round_number % len(names)
                    for name in names[shift:] + names[:shift]:
                        run = measure(HOST, ports[name], load, concurrency, seconds)
                        runs.setdefault((name, operation, concurrency), []).append(run)
    results: dict[str, Any] = {}
    for (name, operation, concurrency), found in runs.items():
        results.setdefault(name, {}).setdefault(operation, {})[str(concurrency)] = combine(found)
    return results
