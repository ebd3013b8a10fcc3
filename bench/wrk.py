"""HTTP load with wrk (a C load generator, Debian's package `wrk`), one script for every server.

wrk runs in its own process with its own event loop: its cost is small and the same for every
server, and it is not Python sharing the interpreter's overheads with the servers it measures.
bench/wrk.lua sends the same request over and over on each keep-alive connection, checks each
answer's status and prints its figures as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from local import debian_packages

SCRIPT = Path(__file__).with_name("wrk.lua")
RESULT = "WRK_RESULT "


def ensure_installed() -> str:
    """The wrk binary, installed from Debian's packages if it is not there yet."""
    return debian_packages.ensure_installed("wrk")


def measure(  # noqa: PLR0917  # one wrk run is these values
    url: str, method: str, path: str, status: int, body: bytes, concurrency: int, seconds: int
) -> dict[str, Any]:
    """One wrk run: `concurrency` connections for `seconds`; requests, failures and latency (ms)."""
    threads = min(concurrency, os.cpu_count() or 1)  # wrk needs a connection per thread at least
    command = [ensure_installed(), "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s"]
    command += ["-s", str(SCRIPT), url, "--", method, path, str(status)]
    if body:
        command.append(body.decode())
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 60)  # noqa: S603
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    found = json.loads(lines[-1].removeprefix(RESULT))
    latency = found["latency_us"]
    return {
        "requests": found["requests"],
        # No answer at all in the run counts as a failure of every connection, not as none.
        "failures": found["unexpected_status"] + found["socket_errors"] + (0 if found["requests"] else concurrency),
        "rps": found["requests"] / (found["duration_us"] / 1e6),
        "latency_ms": {"median": latency["p50"] / 1e3, "p99": latency["p99"] / 1e3, "mean": latency["mean"] / 1e3},
    }
