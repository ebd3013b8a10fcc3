"""One benchmark run: every measure, interleaved where it compares, then the targets and report."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from local.template import PROJECT_ROOT

from . import coldstart, httpbench, layer, report, snapstart
from .contenders import environment
from .modes import Mode
from .pg import bench_database
from .targets import judge
from .workload import seed

logger = logging.getLogger("bench")
T = TypeVar("T")
BENCH_PACKAGES = (
    "fastapi",
    "sqlmodel",
    "sqlalchemy",
    "mangum",
    "asyncpg",
    "uvicorn",
    "aws-lambda-powertools",
    "pydantic",
    "psycopg",
)


def _in_worker(measure: str, options: dict[str, Any]) -> Any:
    """Run an in-process measure in a fresh interpreter (bench/inprocess.py); its result."""
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as name:
        arguments, result = Path(name) / "arguments.json", Path(name) / "result.json"
        arguments.write_text(json.dumps(options))
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "bench.inprocess", measure, str(arguments), str(result)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,  # the functions' EMF metrics
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{measure} failed:\n{done.stderr[-4000:]}")
        return json.loads(result.read_text())


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{platform.system()} {platform.machine()}, {model}, {os.cpu_count()} cores, {memory:.0f} GiB"


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _commit() -> str:
    command = ["git", "rev-parse", "--short", "HEAD"]  # git from PATH, as a developer runs it
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    return done.stdout.strip() or "unknown"


def _postgres_version(conninfo: str) -> str:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def _versions() -> dict[str, str]:
    found = {}
    for name in BENCH_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def run(mode: Mode, out: Path, server_url: str | None = None, command: str = "make bench") -> dict[str, Any]:
    """Measure everything in `mode`, write the results into `out`; the results."""
    phases: dict[str, float] = {}
    # The 1, 5 and 15 minute load averages before and after each section: other work on the
    # machine shows here, whatever the figures say.
    load: dict[str, dict[str, list[float]]] = {}

    def phase(name: str, action: Callable[[], T]) -> T:
        logger.info("%s ...", name)
        load[name] = {"before": _load_average()}
        started = time.perf_counter()
        value = action()
        phases[name] = round(time.perf_counter() - started, 1)
        load[name]["after"] = _load_average()
        logger.info("%s done in %.1f s, load average %s -> %s", name, phases[name], *load[name].values())
        return value

    started = time.perf_counter()
    figures: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=1) as background, bench_database(server_url) as conninfo:
        # The layer builds (a CPU-heavy pip install) while only untimed measures run: round
        # trips and memory. Everything timed waits for it.
        build = background.submit(layer.built_layer if mode.sam_build else layer.estimated_layer)
        build_started = time.perf_counter()
        task_id = seed(conninfo)
        env = {**os.environ, **environment(conninfo)}
        postgres = _postgres_version(conninfo)
        figures["round_trips"] = phase(
            "round trips",
            lambda: _in_worker(
                "round_trips", {"conninfo": conninfo, "task_id": task_id, "samples": mode.round_trip_samples}
            ),
        )
        figures["memory_mib"] = phase(
            "memory",
            lambda: coldstart.peak_memory(conninfo, env, task_id, mode.memory_invocations, mode.cold_functions),
        )
        figures["layer"] = phase("layer", build.result)
        phases["layer"] = round(time.perf_counter() - build_started, 1)  # its whole build, not the wait
        options = {
            "conninfo": conninfo,
            "task_id": task_id,
            "repetitions": mode.warm_repetitions,
            "warm_up": mode.warm_up,
        }
        warm = phase("warm latency", lambda: _in_worker("warm", options))
        figures["warm_latency_us"], figures["warm_ratios"] = warm["latency_us"], warm["ratios"]
        figures["cold_start"] = phase(
            "cold start",
            lambda: coldstart.cold_starts(conninfo, env, task_id, mode.cold_functions, mode.cold_samples),
        )
        figures["http"] = phase(
            "http",
            lambda: httpbench.throughput(
                conninfo,
                env,
                task_id,
                concurrencies=mode.http_concurrency,
                seconds=mode.http_seconds,
                rounds=mode.http_rounds,
            ),
        )
        figures["snapstart"] = phase("snapstart", lambda: snapstart.measure_all(mode.name, conninfo, task_id))
    http_get = figures["http"][httpbench.LOCAL_RUNTIME]["get"]["1"]["latency_ms"]  # None: nothing answered
    in_process_ms = figures["warm_latency_us"]["ours"]["get"]["median"] / 1000
    figures["local_runtime_overhead_ms"] = http_get["median"] - in_process_ms if http_get else float("inf")
    results = {
        "meta": {
            "mode": mode.as_dict(),
            "command": command,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": _commit(),
            "machine": _machine(),
            "python": platform.python_version(),
            "postgres": postgres,
            "versions": _versions(),
            "phase_seconds": phases,
            "load_average": load,
            "total_seconds": round(time.perf_counter() - started, 1),
        },
        "targets": judge(figures),
        "figures": figures,
    }
    report.write(results, out)
    return results
