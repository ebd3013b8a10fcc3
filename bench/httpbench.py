"""Throughput over HTTP: the local runtime (`python -m local serve`) against the lambdalith served
by uvicorn with 1 and 2 workers, for create and get at several concurrencies, each run by wrk with
the same script (bench/wrk.py, bench/wrk.lua).

uvicorn runs under bench/baselines/serve.py, which gives its listening socket TCP_NODELAY: without
it, uvicorn's multi-worker connections wait on Nagle's algorithm and the client's delayed ACK
(about 44 ms per request at concurrency 1), which measures TCP, not the lambdalith.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from local.server_process import HOST, ServerProcess, free_port, serve_command

from . import wrk
from .workload import Request, request

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
        command = [sys.executable, "-m", "bench.baselines.serve", "bench.baselines.lambdalith:app", "--host", HOST]
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
    seconds: int,
    rounds: int,
) -> dict[str, Any]:
    """Per server, operation and concurrency: requests per second and latency (ms), over rounds."""
    requests = {operation: request(operation, task_id) for operation in ("create", "get")}
    contenders = servers(conninfo, environment)
    names = list(contenders)
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    with ExitStack() as stack:
        urls = {name: f"http://{HOST}:{stack.enter_context(server).port}" for name, server in contenders.items()}
        for url in urls.values():  # warm every worker: connections, caches
            for req in requests.values():
                wrk.measure(url, req.method, req.path, req.status, req.body, max(concurrencies), 1)
        for round_number in range(rounds):
            for operation, req in requests.items():
                for concurrency in concurrencies:
                    shift = round_number % len(names)
                    for name in names[shift:] + names[:shift]:
                        _settle(urls[name], req)
                        run = wrk.measure(urls[name], req.method, req.path, req.status, req.body, concurrency, seconds)
                        runs.setdefault((name, operation, concurrency), []).append(run)
    results: dict[str, Any] = {}
    for (name, operation, concurrency), found in runs.items():
        results.setdefault(name, {}).setdefault(operation, {})[str(concurrency)] = _combine(found)
    return results


def _settle(url: str, req: Request) -> None:
    """Wait until the server has served what the last run left in flight (wrk stops counting
    at its deadline, the server does not stop working): one request of the same route, which
    queues behind them, answered before the next run starts."""
    sent = urllib.request.Request(url + req.path, data=req.body or None, method=req.method)  # noqa: S310  # our server
    sent.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(sent, timeout=120) as answer:  # noqa: S310
        answer.read()


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one measure: their total requests and failures, mean rate, the median round's latency."""
    answered = [run for run in runs if run["requests"]]  # a run without an answer has no latency
    latencies = sorted((run["latency_ms"] for run in answered), key=lambda latency: latency["median"])
    return {
        "requests": sum(run["requests"] for run in runs),
        "failures": sum(run["failures"] for run in runs),
        "rps": sum(run["rps"] for run in runs) / len(runs),
        "latency_ms": latencies[(len(latencies) - 1) // 2] if latencies else None,
        "rounds": len(runs),
    }
