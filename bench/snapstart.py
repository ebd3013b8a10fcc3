"""SnapStart in the local runtime (docs/local-runtime.md): with and without snapshots, how fast a
worker starts, the p99 of a burst against a cold `python -m local serve`, and the workers' memory.

- worker start: a worker of GetTaskFunction made ready to serve, from the pool's request to the
  worker's ready: a fork of the function's snapshot that runs the after-restore hooks, against a
  process of its own that imports the handler (the cold start). Interleaved, median.
- burst: a server just started (no worker yet) takes concurrency 32 at once, for a few seconds,
  every request the next of the six operations (create, get, list, update, health, and a delete
  of a task that is not there, an expected 404), so every function scales out; wrk's latency
  distribution, and the responses that were not the expected ones. With SnapStart the burst
  starts when the snapshots are taken, as Lambda's are before a published version's first
  invocation; the figure with the burst at "Running on" is kept too.
- memory: after a soak at concurrency 16 over the same requests, the proportional set size (PSS,
  /proc/<pid>/smaps_rollup) of every worker process, snapshots included: pages a fork shares
  with its snapshot count once, split between them, where RSS would count them in every worker.

wrk (Debian's `wrk`) is installed with apt-get when it is missing and the machine allows it;
otherwise bench/loadgen.py generates the load, and the figures say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import debian_packages
from local.emulator.pool import Worker
from local.emulator.snapshot import Snapshot
from local.server_process import ServerProcess, serve_command
from local.template import Function, load_functions

from .loadgen import Load, measure
from .stats import summary
from .workload import Request, request

logger = logging.getLogger("bench")

HOST = "127.0.0.1"
BURST_CONCURRENCY = 32
SOAK_CONCURRENCY = 16
# The targets (the issue's): a worker from a snapshot in at most a tenth of a cold start's time;
# the burst's p99 at most 0.3 of today's; the workers' PSS at most half of today's.
WORKER_START_RATIO = 0.1
BURST_P99_RATIO = 0.3
PSS_RATIO = 0.5
SNAPSHOT_FUNCTIONS = 6  # the API functions, each snapshotted when the server starts
SNAPSHOT_TAKEN = re.compile(r"^Snapshot of \w+ taken", re.M)


@dataclass(frozen=True)
class Settings:
    """How much one mode measures."""

    start_samples: int
    burst_seconds: float
    soak_seconds: float
    burst_concurrency: int = BURST_CONCURRENCY
    soak_concurrency: int = SOAK_CONCURRENCY


# wrk counts only the requests answered before its duration ends (one still in flight then is
# dropped): a burst lasts longer than the scale-out without snapshots, whose first answers wait
# for six functions' imports (as many per function at a time as there are CPUs) sharing the
# CPUs, several seconds on a busy machine, or the slowest requests would not count.
# The soak is as long in quick mode as in full: the memory compared is where the servers stand
# after it, and without snapshots the pools are still growing after 10 s (cold starts wait for a
# CPU), so a shorter soak measured another thing (0.53-0.59 after 10 s, 0.42-0.46 after 60 s).
SETTINGS = {
    "full": Settings(start_samples=15, burst_seconds=10.0, soak_seconds=60.0),
    "quick": Settings(start_samples=5, burst_seconds=10.0, soak_seconds=60.0),
    "tiny": Settings(start_samples=1, burst_seconds=5.0, soak_seconds=2.0, burst_concurrency=4, soak_concurrency=2),
}


# --- worker start


async def _worker_starts(cold: Function, snapshotted: Function, samples: int) -> dict[str, list[float]]:
    devnull = os.open(os.devnull, os.O_WRONLY)
    loop = asyncio.get_running_loop()
    times: dict[str, list[float]] = {"cold": [], "snapshot": []}
    snapshot = await Snapshot.start(snapshotted, devnull)
    try:
        for _ in range(samples):
            started = loop.time()
            worker = await Worker.start(cold, 0, devnull)
            times["cold"].append(loop.time() - started)
            await worker.stop()
            started = loop.time()
            worker = await Worker.restore(snapshot, 0)
            times["snapshot"].append(loop.time() - started)
            await worker.stop()
    finally:
        await snapshot.close()
        os.close(devnull)
    return times


def worker_start(conninfo: str, samples: int) -> dict[str, Any]:
    """Median and p99 (ms) of a worker's start: a cold start, and a fork of the snapshot."""
    parameters = {"DatabaseUrl": conninfo}
    cold = load_functions(parameters={**parameters, "SnapStart": "None"})["GetTaskFunction"]
    snapshotted = load_functions(parameters=parameters)["GetTaskFunction"]
    times = asyncio.run(_worker_starts(cold, snapshotted, samples))
    return {kind: summary(values, scale=1e3) for kind, values in times.items()}


# --- servers, load and memory


@contextmanager
def cold_server(conninfo: str, *, snapstart: bool, wait_for_snapshots: bool) -> Iterator[tuple[int, int]]:
    """`python -m local serve` just started (SnapStart on or off); its port and pid."""
    flags = ["--host", HOST, "--no-reload"]
    if not snapstart:
        flags += ["--parameter-overrides", "SnapStart=None"]
    with ServerProcess(serve_command(*flags), env={"DATABASE_URL": conninfo}) as server:
        if snapstart and wait_for_snapshots:
            _wait_for_snapshots(server)
        yield server.port, server.process.pid


def _wait_for_snapshots(server: ServerProcess) -> None:
    """Wait until the server has taken every API function's snapshot."""
    deadline = time.monotonic() + 180
    while len(SNAPSHOT_TAKEN.findall(server.log())) < SNAPSHOT_FUNCTIONS:
        if server.process.poll() is not None:
            raise RuntimeError(server.log()[-4000:])
        if time.monotonic() > deadline:
            raise TimeoutError(f"{SNAPSHOT_FUNCTIONS} snapshots not taken:\n{server.log()[-4000:]}")
        time.sleep(0.01)


# A task id no one has: the delete is a 404 that runs the function's whole path, every time.
MISSING_TASK_ID = 9_000_000_000


def requests(task_id: int) -> list[Request]:
    """One request of each API function, the load cycles through."""
    found = [request(operation, task_id) for operation in ("create", "get", "list", "update", "health")]
    missing = request("delete", MISSING_TASK_ID)
    return [*found, Request(missing.method, missing.path, missing.query, missing.body, 404)]


def _wrk() -> str | None:
    """wrk's path, installed with apt-get if missing (None where that is not possible)."""
    try:
        return debian_packages.ensure_installed("wrk")
    except (RuntimeError, subprocess.SubprocessError, OSError):
        return None


# wrk counts every status outside 2xx and 3xx as "Non-2xx", the delete's expected 404s too. The
# script checks each response itself: 200 and 201, or a 404 whose body is the task's `not_found`
# error (a route that matched nothing is 404 `{"message":"Not Found"}`, unexpected). Each of wrk's
# threads has its own Lua state, so done() sums the threads' counts and prints the total.
_WRK_SCRIPT = """
local cycle = {%s}
local counter = 0
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
init = function(args)
  unexpected = 0
end
request = function()
  counter = counter + 1
  local r = cycle[counter %% #cycle + 1]
  return wrk.format(r[1], r[2], {["Content-Type"] = "application/json"}, r[3])
end
response = function(status, headers, body)
  local missing_task = status == 404 and string.find(body, '"not_found"', 1, true) ~= nil
  if status ~= 200 and status ~= 201 and not missing_task then
    unexpected = unexpected + 1
  end
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
  end
  io.write(string.format("Unexpected responses: %%d\\n", total))
end
"""


def _request_target(one: Request) -> str:
    return one.path + (f"?{one.query}" if one.query else "")


def _lua_request(one: Request) -> str:
    """The request as a Lua table of wrk's script: {method, path, body} (JSON strings read as Lua's)."""
    return "{" + ", ".join(json.dumps(part) for part in (one.method, _request_target(one), one.body.decode())) + "}"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def load(port: int, task_id: int, concurrency: int, seconds: float) -> dict[str, Any]:
    """`concurrency` clients for `seconds` over the requests, all at once: latency (ms) and errors."""
    wrk = _wrk()
    if wrk is None:
        return _loadgen(port, task_id, concurrency, seconds)
    lua = ", ".join(_lua_request(one) for one in requests(task_id))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT % lua)
        script.flush()
        # wrk takes whole seconds.
        command = [wrk, f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency"]
        command += ["--timeout", "10s", "-s", script.name, f"http://{HOST}:{port}"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    unexpected = re.search(r"^Unexpected responses: (\d+)$", output, re.M)
    answered = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    # None answered (every worker's init still running, or killed at the 10 s limit): no latency.
    latency = {"median": _ms(percentiles["50"]), "p99": _ms(percentiles["99"])} if answered else None
    return {
        "client": "wrk",
        "requests": answered,
        "seconds": seconds,
        "latency_ms": latency,
        "errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "unexpected": int(unexpected.group(1)),  # type: ignore[union-attr]
    }


def _loadgen(port: int, task_id: int, concurrency: int, seconds: float) -> dict[str, Any]:
    # One request per client, round robin (wrk's script rotates per request).
    runs = []
    loads = [Load(one.method, _request_target(one), one.body, one.status) for one in requests(task_id)]
    per_load = [concurrency // len(loads) + (index < concurrency % len(loads)) for index in range(len(loads))]
    for one, clients in zip(loads, per_load, strict=True):
        if clients:
            runs.append(measure(HOST, port, one, clients, seconds))
    latencies = [value for run in runs for value in run["latencies"]]
    found = summary(latencies, scale=1e3)
    return {
        "client": "bench/loadgen.py (wrk missing)",
        "requests": len(latencies),
        "seconds": seconds,
        "latency_ms": {"median": found["median"], "p99": found["p99"]},
        "errors": 0,
        "unexpected": sum(run["failures"] for run in runs),
    }


def workers_memory(server_pid: int) -> dict[str, Any]:
    """PSS and RSS (MiB) summed over the server's worker processes (snapshots included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    pss_kib = rss_kib = count = 0
    pending = list(children.get(server_pid, []))
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        with contextlib.suppress(OSError):
            if b"local.emulator.worker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue  # not a worker (the embedded PostgreSQL runs elsewhere here)
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            pss_kib += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1))  # type: ignore[union-attr]
            rss_kib += int(re.search(r"^Rss:\s+(\d+) kB", rollup, re.M).group(1))  # type: ignore[union-attr]
            count += 1
    return {"processes": count, "pss_mib": pss_kib / 1024, "rss_mib": rss_kib / 1024}


def burst(conninfo: str, task_id: int, settings: Settings) -> dict[str, Any]:
    """The burst against a cold server: without SnapStart, with it (snapshots taken), and with it
    from the first moment (snapshots still being taken)."""
    found = {}
    for name, snapstart, wait in (("off", False, False), ("on", True, True), ("on at start", True, False)):
        with cold_server(conninfo, snapstart=snapstart, wait_for_snapshots=wait) as (port, _):
            found[name] = load(port, task_id, settings.burst_concurrency, settings.burst_seconds)
    return found


def soak(conninfo: str, task_id: int, settings: Settings) -> dict[str, Any]:
    """The workers' memory after a soak, without and with SnapStart."""
    found = {}
    for name, snapstart in (("off", False), ("on", True)):
        with cold_server(conninfo, snapstart=snapstart, wait_for_snapshots=True) as (port, pid):
            found[name] = {"load": load(port, task_id, settings.soak_concurrency, settings.soak_seconds)}
            found[name]["memory"] = workers_memory(pid)
    return found


def measure_all(mode: str, conninfo: str, task_id: int) -> dict[str, Any]:
    """Every SnapStart figure of this mode."""
    settings = SETTINGS[mode]
    return {
        "settings": settings.__dict__,
        "worker_start_ms": worker_start(conninfo, settings.start_samples),
        "burst": burst(conninfo, task_id, settings),
        "soak": soak(conninfo, task_id, settings),
    }


def judge(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The three targets, from measure_all's figures."""
    start = figures["worker_start_ms"]
    start_ratio = start["snapshot"]["median"] / start["cold"]["median"]
    burst_found = figures["burst"]
    burst_ratio = _p99_at_least(burst_found["on"]) / _p99_at_least(burst_found["off"])
    memory = {name: found["memory"] for name, found in figures["soak"].items()}
    pss_ratio = memory["on"]["pss_mib"] / memory["off"]["pss_mib"]
    return [
        _target(
            "local worker start, snapshot vs cold",
            start_ratio,
            "x cold start",
            f"<= {WORKER_START_RATIO}",
            f"median: fork of the snapshot {start['snapshot']['median']:.1f} ms, "
            f"cold start {start['cold']['median']:.0f} ms",
        ),
        _target(
            "burst p99 against a cold make run, SnapStart vs without",
            burst_ratio,
            "x without SnapStart",
            f"<= {BURST_P99_RATIO}",
            f"concurrency {figures['settings']['burst_concurrency']} for {figures['settings']['burst_seconds']:g} s, "
            f"p99: SnapStart {_p99_text(burst_found['on'])} "
            f"(at once from Running on: {_p99_text(burst_found['on at start'])}), "
            f"without {_p99_text(burst_found['off'])}; unexpected responses and socket errors: "
            f"SnapStart {_failures(burst_found['on'])}, without {_failures(burst_found['off'])}; "
            f"{burst_found['on']['client']}",
        ),
        _target(
            "workers' PSS after a soak, SnapStart vs without",
            pss_ratio,
            "x without SnapStart",
            f"<= {PSS_RATIO}",
            f"concurrency {figures['settings']['soak_concurrency']} for {figures['settings']['soak_seconds']:g} s: "
            f"SnapStart {memory['on']['pss_mib']:.0f} MiB in {memory['on']['processes']} processes "
            f"(RSS {memory['on']['rss_mib']:.0f}), without {memory['off']['pss_mib']:.0f} MiB in "
            f"{memory['off']['processes']} (RSS {memory['off']['rss_mib']:.0f})",
        ),
    ]


def _p99_at_least(found: dict[str, Any]) -> float:
    """A load's p99 (ms); when nothing was answered, the load's length, which it exceeds."""
    latency = found["latency_ms"]
    return float(latency["p99"]) if latency else found["seconds"] * 1e3


def _p99_text(found: dict[str, Any]) -> str:
    if found["latency_ms"]:
        return f"{found['latency_ms']['p99']:.0f} ms"
    return f"over {found['seconds']:g} s (no request answered in the {found['seconds']:g} s)"


def _failures(found: dict[str, Any]) -> int:
    """Responses not the expected ones plus socket errors (time-outs included) of one load."""
    return int(found["unexpected"] + found["errors"])


def _target(name: str, value: float, unit: str, goal: str, detail: str) -> dict[str, Any]:
    limit = float(goal.removeprefix("<= "))
    return {"name": name, "value": value, "unit": unit, "goal": goal, "pass": value <= limit, "detail": detail}


def main() -> None:
    """`python -m bench.snapstart [full|quick|tiny]` alone, on DATABASE_URL (migrated, seeded)."""
    from .pg import bench_database  # noqa: PLC0415  # only when run alone
    from .workload import seed  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="bench: %(message)s")
    mode = sys.argv[1] if len(sys.argv) > 1 else "quick"
    with bench_database(os.environ.get("DATABASE_URL") or None) as conninfo:
        figures = measure_all(mode, conninfo, seed(conninfo))
    for target in judge(figures):
        line = f"{target['name']}: {target['value']:.3g} {target['unit']} (goal {target['goal']}): {target['detail']}"
        sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main()
