"""Which HTTP server the local gateway uses: one measure for each candidate, in turn.

    .venv/bin/python -m bench.gateway_candidates [--rounds 3] [--requests 2000] [--seconds 3]
        [--baseline COMMIT] [--aiohttp DIR]

Candidates: this checkout (uvicorn with httptools); the hand-written `local/http11.py` of
`--baseline` (a commit that has it, extracted with `git archive`); and, with `--aiohttp DIR`,
aiohttp's low-level server in front of the same `Gateway`, aiohttp being installed in DIR only
(`pip install --target DIR aiohttp==3.14.5`; it is not a dependency of the project).

For each, in a rotating order per round: `make bench`'s task GET on template.yaml, then the
benchmark fixture's trivial handler (`GET /trivial`, bench/fixture/): the gateway overhead of
`bench.local_runtime.compare` (HTTP p50 and p99 minus the in-process call's), the gateway
process's CPU time per request, and requests per second at concurrency 1 and 32 (`bench.loadgen`).
Prints a Markdown table (docs/local-gateway.md has one run).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.devdb.database import DatabaseUrls, dev_database, migrated, scratch_database
from local.emulator.pool import FunctionPool
from local.gateway.asgi import can_carry
from local.gateway.dispatch import INTERNAL_SERVER_ERROR, Gateway, Request
from local.gateway.docs import ApiDocs
from local.server import ServeOptions, database_parameters, gateway_auth, load
from local.server_process import HOST, ServerProcess, serve_command
from local.template import PROJECT_ROOT, load_cors

from .loadgen import Load, combine, measure
from .local_runtime import FIXTURE, TRIVIAL_PATH, WARM_UP, product_get, trivial_get
from .pg import server as postgres_server
from .stats import percentile

BASELINE = "4cea301"  # the last commit whose gateway is served by local/http11.py


@contextmanager
def _baseline_tree(commit: str) -> Iterator[Path]:
    """The files of `commit` in a temporary folder."""
    archive = subprocess.run(  # noqa: S603  # git with our own arguments
        ["git", "archive", commit],  # noqa: S607  # git from PATH, as a developer runs it
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory(prefix="gateway-baseline-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _trivial(server: ServerProcess, requests: int, seconds: float) -> dict[str, Any]:
    """The fixture's trivial handler: overhead, the gateway's CPU per request, throughput."""
    cpu_before = _cpu_seconds(server.process.pid)
    found = trivial_get(server, requests)
    cpu_per_request = (_cpu_seconds(server.process.pid) - cpu_before) / (len(found.http_s) + WARM_UP)
    load = Load("GET", TRIVIAL_PATH, b"", 200)
    measure(HOST, server.port, load, 32, 2.0)  # every worker of the function started, warm
    c1 = combine([measure(HOST, server.port, load, 1, seconds)])
    c32 = combine([measure(HOST, server.port, load, 32, seconds)])
    return {
        "http": found.http_s,
        "direct": found.direct_s,
        "cpu": cpu_per_request,
        "rps1": c1["rps"],
        "rps32": c32["rps"],
        "failures": c1["failures"] + c32["failures"],
    }


def run(args: argparse.Namespace, urls: DatabaseUrls, baseline: Path) -> dict[str, list[dict[str, Any]]]:
    """Every round of every candidate: the product's task GET, then the trivial handler."""
    serve = serve_command("--no-reload", "--template")
    candidates: dict[str, tuple[list[str], Path, dict[str, str]]] = {
        "uvicorn + httptools (this checkout)": (serve, PROJECT_ROOT, {}),
        f"http11, hand-written ({args.baseline})": (serve, baseline, {"PYTHONPATH": str(baseline)}),
    }
    if args.aiohttp:
        command = [sys.executable, "-m", "bench.gateway_candidates", "--serve-aiohttp"]
        path = {"PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{args.aiohttp}"}
        candidates["aiohttp low-level server"] = (command, PROJECT_ROOT, path)
    names = list(candidates)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_number in range(args.rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            command, cwd, extra = candidates[name]
            env = {"DATABASE_URL": urls.owner, **extra}
            # The product of the candidate's own tree; the trivial handler of this checkout's bench.
            with ServerProcess([*command, "template.yaml"], env=env, cwd=cwd) as server:
                product = product_get(server, urls, args.requests)
            with ServerProcess([*command, str(FIXTURE)], env=env, cwd=cwd) as server:
                trivial = _trivial(server, args.requests, args.seconds)
            runs[name].append({**trivial, "product_http": product.http_s, "product_direct": product.direct_s})
            print(f"round {round_number + 1}: {name} done", file=sys.stderr)
    return runs


def _ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1e3


def _pooled(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [value for run in runs for value in run[key]]


def report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    """The table of docs/local-gateway.md."""
    load = os.getloadavg()[0]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.1f}; ", end="")
    print(f"{args.rounds} rounds of {args.requests} requests and {args.seconds:g} s per concurrency.")
    print("Task GET: `make bench`'s operation (a query); the other columns: the trivial handler. Times in ms.")
    print()
    print(
        "| server | task GET overhead p50 | overhead p50 / p99 | HTTP p50 / p99 | CPU/request | req/s c1 | req/s c32 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, found in runs.items():
        http_s, direct_s = _pooled(found, "http"), _pooled(found, "direct")
        task_get = _ms(_pooled(found, "product_http"), 50) - _ms(_pooled(found, "product_direct"), 50)
        overhead = f"{_ms(http_s, 50) - _ms(direct_s, 50):.2f} / {_ms(http_s, 99) - _ms(direct_s, 99):.2f}"
        cpu = statistics.median(run["cpu"] for run in found) * 1e6
        rps1 = statistics.median(run["rps1"] for run in found)
        rps32 = statistics.median(run["rps32"] for run in found)
        failures = sum(run["failures"] for run in found)
        note = f" ({failures} failures)" if failures else ""
        row = f"{task_get:.2f} | {overhead} | {_ms(http_s, 50):.2f} / {_ms(http_s, 99):.2f} | {cpu:.0f} us"
        print(f"| {name}{note} | {row} | {rps1:.0f} | {rps32:.0f} |")


def serve_aiohttp(template: Path, urls: DatabaseUrls) -> None:
    """The gateway behind aiohttp's low-level server (the candidate; aiohttp on PYTHONPATH only)."""
    web: Any = importlib.import_module("aiohttp.web")

    async def main() -> None:
        options = ServeOptions(template=template, reload=False)
        functions = load(options, urls)
        pools = {name: FunctionPool(f, f.reserved_concurrency or 4) for name, f in functions.items()}
        cors = load_cors(template, database_parameters(urls))
        gateway = Gateway(functions, pools, cors, ApiDocs(template), gateway_auth(options))
        port = 0

        async def handle(request: Any) -> Any:
            body = await request.content.read()
            headers = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in request.raw_headers]
            version = f"{request.version.major}.{request.version.minor}"
            answer = await gateway.handle(
                Request(request.method, request.raw_path, headers, body, "127.0.0.1", version, port)
            )
            answer = answer if can_carry(answer.headers) else INTERNAL_SERVER_ERROR
            return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

        loop = asyncio.get_running_loop()
        server = await loop.create_server(web.Server(handle, access_log=None), HOST, 0)
        port = server.sockets[0].getsockname()[1]
        print(f"Running on http://{HOST}:{port}", flush=True)  # what ServerProcess waits for
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()
        await asyncio.gather(*(pool.close() for pool in pools.values()))

    asyncio.run(main())


def main() -> None:
    """Measure every candidate and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--baseline", default=BASELINE, help="a commit whose gateway is local/http11.py")
    parser.add_argument("--aiohttp", type=Path, help="a folder with aiohttp installed (pip install --target)")
    parser.add_argument("--serve-aiohttp", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_aiohttp:
        with dev_database(url=os.environ["DATABASE_URL"]) as urls:  # as `python -m local serve` does
            serve_aiohttp(args.serve_aiohttp, urls)
        return
    with (
        postgres_server(os.environ.get("DATABASE_URL") or None) as server_url,
        scratch_database(server_url, prefix="bench_gateway") as scratch_url,
        _baseline_tree(args.baseline) as baseline,
    ):
        urls = migrated(scratch_url)  # by this checkout, whichever candidate starts first
        report(run(args, urls, baseline), args)


if __name__ == "__main__":
    main()
