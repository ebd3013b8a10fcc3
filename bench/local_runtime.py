"""The local runtime's own figures (`make run`): gateway overhead, throughput, start, reload.

    .venv/bin/python -m bench.local_runtime [--requests 2000] [--seconds 5]

Uses DATABASE_URL when set, else an embedded PostgreSQL in a temporary folder. The functions are
the product's (template.yaml) and the benchmark's own fixture (bench/fixture/). Prints one line
per figure; figures depend on the machine, the targets are in the comments. `make bench` judges
the overhead target with the same client (bench/httpbench.py); `python -m bench.gateway_candidates`
runs these measures for each HTTP server candidate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from local.devdb.database import DatabaseUrls, migrated, scratch_database
from local.server_process import HOST, ServerProcess, serve_command
from local.template import PROJECT_ROOT, load_functions

from .contenders import Call, Ours, api_environment
from .loadgen import Connection, Load, combine, measure
from .pg import server as postgres_server
from .stats import percentile
from .workload import Request

FIXTURE = Path(__file__).with_name("fixture") / "template.yaml"
TRIVIAL_PATH = "/trivial"
WARM_UP = 200  # requests on each side before the ones counted


@dataclass(frozen=True)
class Comparison:
    """The same warm request over HTTP and as a direct call of its handler: seconds of each."""

    http_s: list[float]
    direct_s: list[float]

    def overhead_ms(self, q: float = 50) -> float:
        """The q-th percentile over HTTP minus the in-process call's, in milliseconds."""
        return (percentile(self.http_s, q) - percentile(self.direct_s, q)) * 1e3


def serve(database_url: str, *args: str) -> ServerProcess:
    """`python -m local serve` on a free port (enter it to start), on the database of `database_url`."""
    return ServerProcess(serve_command(*args), env={"DATABASE_URL": database_url})


async def _interleaved(port: int, path: str, direct: Call, requests: int) -> Comparison:
    load = Load("GET", path, b"", 200)
    connection = await Connection.open(HOST, port, load)
    http_s: list[float] = []
    direct_s: list[float] = []
    try:
        for index in range(WARM_UP + requests):
            started = time.perf_counter()
            status = await connection.send()
            over_http = time.perf_counter() - started
            if status != load.status:
                raise RuntimeError(f"GET {path} answered {status}")
            started = time.perf_counter()
            direct()
            in_process = time.perf_counter() - started
            if index >= WARM_UP:
                http_s.append(over_http)
                direct_s.append(in_process)
    finally:
        connection.close()
    return Comparison(http_s, direct_s)


def compare(port: int, template: Path, parameters: dict[str, str], path: str, requests: int) -> Comparison:
    """The same warm GET over HTTP and as an in-process call of its handler, interleaved."""
    functions = load_functions(template, parameters=parameters)
    os.environ.update(api_environment(functions))
    direct = Ours(functions).prepare_request(Request("GET", path, "", b"", 200))
    # The handler's own log lines go nowhere on both sides (the worker's go to the server's log).
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        return asyncio.run(_interleaved(port, path, direct, requests))


def product_get(server: ServerProcess, urls: DatabaseUrls, requests: int) -> Comparison:
    """`make bench`'s operation on a server of template.yaml: GET of one task (a query)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    connection.request("POST", "/users/bench/tasks", body='{"title": "bench"}')
    created = json.loads(connection.getresponse().read())
    connection.close()
    path = f"/users/bench/tasks/{created['id']}"
    # In-process as the server's functions connect: as the API's role.
    return compare(server.port, PROJECT_ROOT / "template.yaml", {"DatabaseUrl": urls.app}, path, requests)


def trivial_get(server: ServerProcess, requests: int) -> Comparison:
    """The fixture's trivial handler on a server of bench/fixture/template.yaml."""
    return compare(server.port, FIXTURE, {}, TRIVIAL_PATH, requests)


def _print(name: str, found: Comparison) -> None:
    for side, values in (("over HTTP", found.http_s), ("in-process handler", found.direct_s)):
        line = ", ".join(f"p{q} {percentile(values, q) * 1e3:.3f} ms" for q in (50, 90, 99))
        print(f"{name} {side}: {line}")
    print(f"gateway overhead p50, {name}: {found.overhead_ms():.3f} ms")  # target: under 1 ms


def overhead(urls: DatabaseUrls, requests: int) -> None:
    """Gateway overhead for a product function (with its query) and for the fixture's trivial one."""
    with serve(urls.owner, "--no-reload") as server:
        _print("GET /users/{user_id}/tasks/{task_id}", product_get(server, urls, requests))
    with serve(urls.owner, "--no-reload", "--template", str(FIXTURE)) as server:
        _print(f"GET {TRIVIAL_PATH}", trivial_get(server, requests))


def throughput(urls: DatabaseUrls, seconds: float) -> None:
    """Warm requests per second at concurrency 8 and 32 (workers: the default limit, then 8)."""
    load = Load("GET", "/health", b"", 200)
    for limit in ("4", "8"):
        with serve(urls.owner, "--no-reload", "--max-concurrency", limit) as server:
            measure(HOST, server.port, load, 32, 2.0)  # start every worker
            for concurrency in (8, 32):
                found = combine([measure(HOST, server.port, load, concurrency, seconds)])
                print(
                    f"throughput GET /health, {limit} workers, concurrency {concurrency}: {found['rps']:.0f} req/s"
                    + (f" ({found['failures']} failures)" if found["failures"] else "")
                )


def start_time() -> None:
    """From `make run` (environment built) to serving: a new data folder, then the same again."""
    with tempfile.TemporaryDirectory(prefix="bench-make-run-") as folder:
        env = {"PORT": "0", "ARGS": f"--data-dir {folder}/pgdata", "DATABASE_URL": ""}
        for label in ("new data folder (initdb)", "existing data folder"):
            with ServerProcess(["make", "--no-print-directory", "run"], env=env) as server:
                connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
                connection.request("GET", "/health")
                status = connection.getresponse().status
                first_response_s = time.perf_counter() - server.started
                connection.close()
            if status != 200:
                raise RuntimeError(f"the first /health answered {status}")
            # Target: under 3 s to serving.
            first = f"first /health answered: {first_response_s:.2f} s"
            print(f"make run to serving, {label}: {server.ready_s:.2f} s ({first})")


def _served(connection: http.client.HTTPConnection, key: str) -> str:
    connection.request("GET", "/version")
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET /version answered {response.status}: {body!r}")
    return str(json.loads(body)[key])


def reload_time(database_url: str, rounds: int = 5) -> None:
    """From saving a handler (or the layer) to the change being served, cold start included."""
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as folder:
        project = Path(folder) / "fixture"
        shutil.copytree(FIXTURE.parent, project)
        with serve(database_url, "--template", str(project / "template.yaml")) as server:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
            for target, key in ((project / "function/app.py", "version"), (project / "layer/bench_layer.py", "layer")):
                times = []
                for round_ in range(rounds):
                    _served(connection, key)  # warm
                    new = f"r{round_}"
                    edited = re.sub(r'VERSION = "[^"]*"', f'VERSION = "{new}"', target.read_text())
                    temporary = target.with_suffix(".tmp")
                    temporary.write_text(edited)
                    saved = time.perf_counter()
                    os.replace(temporary, target)  # saved at once, as an editor does
                    while _served(connection, key) != new:
                        time.sleep(0.005)
                    times.append(time.perf_counter() - saved)
                    time.sleep(0.3)
                # Target: under 1 s.
                print(
                    f"save to served ({target.name}): median {statistics.median(times):.3f} s, max {max(times):.3f} s"
                )
            connection.close()


def main() -> None:
    """Run every measurement."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    start_time()
    with postgres_server(os.environ.get("DATABASE_URL") or None) as server_url:
        with scratch_database(server_url, prefix="bench") as url:
            urls = migrated(url)
            overhead(urls, args.requests)
            throughput(urls, args.seconds)
        with scratch_database(server_url, prefix="bench_reload") as url:
            reload_time(url)


if __name__ == "__main__":
    main()
