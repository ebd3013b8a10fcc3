"""Cold start and memory: fresh processes (bench/probe.py) for ours, the lambdalith and the floor.

Every sample is a new `python` (the same interpreter as the benchmark), and each round runs
every contender once for one function, in a rotating order, so noise falls on all alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.template import PROJECT_ROOT, Function, load_functions

from .stats import median_ratio, summary
from .workload import FUNCTION_OPERATION, OPERATIONS, Request, floor_statement, request, spare_tasks

PROBE = Path(__file__).with_name("probe.py")
KINDS = ("ours", "lambdalith", "floor")


def _http_call(req: Request) -> dict[str, Any]:
    event = req.event()
    return {"event": event, "status": req.status}


def _calls(kind: str, operations: list[str], task_id: int, delete_id: int) -> list[dict[str, Any]]:
    calls = []
    for operation in operations:
        target = delete_id if operation == "delete" else task_id
        if kind == "floor":
            query, params = floor_statement(operation, target)
            calls.append({"query": query, "params": params})
        else:
            calls.append(_http_call(request(operation, target)))
    return calls


def _spec(kind: str, function: Function, conninfo: str, calls: list[dict[str, Any]], warm: int) -> dict[str, Any]:
    path = {"ours": [str(function.code_uri)], "lambdalith": [str(PROJECT_ROOT)], "floor": []}[kind]
    return {"kind": kind, "path": path, "conninfo": conninfo, "calls": calls, "warm_invocations": warm}


def _run(spec: dict[str, Any], environment: Mapping[str, str], folder: Path) -> dict[str, Any]:
    """One fresh process; its figures plus the wall time and the interpreter's start."""
    spec_file, result_file = folder / "spec.json", folder / "result.json"
    spec_file.write_text(json.dumps({**spec, "result": str(result_file)}))
    spawned = time.perf_counter()
    done = subprocess.run(  # noqa: S603  # our own interpreter and probe
        [sys.executable, str(PROBE), str(spec_file)],
        env=dict(environment),
        stdout=subprocess.DEVNULL,  # the functions' EMF metrics and logs
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - spawned
    if done.returncode != 0:
        raise RuntimeError(f"{spec['kind']} probe failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result_file.read_text())
    figures["wall_s"] = wall
    figures["interpreter_start_s"] = figures.pop("started") - spawned
    return figures


def cold_starts(
    conninfo: str, environment: Mapping[str, str], task_id: int, functions: tuple[str, ...], samples: int
) -> dict[str, Any]:
    """Per function and contender: import, first invocation, their sum and wall time (ms); and
    ours to the lambdalith, the target's ratio, with its bootstrap interval."""
    template = load_functions(parameters={"DatabaseUrl": conninfo})
    deletes = iter(spare_tasks(conninfo, len(KINDS) * (samples + 1) * functions.count("DeleteTaskFunction")))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as name:
        folder = Path(name)
        for logical_id in functions:
            operation = FUNCTION_OPERATION[logical_id]
            figures: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
            first = logical_id == functions[0]  # a first round fills the bytecode caches, not timed
            for sample in range(0 if first else 1, samples + 1):
                for kind in KINDS[sample % 3 :] + KINDS[: sample % 3]:
                    delete_id = next(deletes) if operation == "delete" else task_id
                    calls = _calls(kind, [operation], task_id, delete_id)
                    spec = _spec(kind, template[logical_id], conninfo, calls, warm=0)
                    found = _run(spec, environment, folder)
                    if sample:
                        figures[kind].append(found)
            results[logical_id] = {kind: _summaries(values) for kind, values in figures.items()}
            # The target's ratio with its interval, each round's ours and lambdalith paired.
            results[logical_id]["ratio_to_lambdalith"] = median_ratio(
                [s["import_and_first_invocation_s"] for s in figures["ours"]],
                [[s["import_and_first_invocation_s"] for s in figures["lambdalith"]]],
            )
    return results


def _summaries(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("import_s", "first_invocation_s", "import_and_first_invocation_s", "cpu_s", "wall_s", "interpreter_start_s")
    return {key.removesuffix("_s"): summary([s[key] for s in samples], scale=1e3) for key in keys}


def peak_memory(
    conninfo: str,
    environment: Mapping[str, str],
    task_id: int,
    invocations: int,
    functions: tuple[str, ...],
    *,
    samples: int = 1,
) -> dict[str, Any]:
    """Peak RSS (MiB) of one warm process: per function for ours, all routes for the lambdalith."""
    everything = load_functions(parameters={"DatabaseUrl": conninfo})
    template = {name: everything[name] for name in functions}
    deletes = iter(spare_tasks(conninfo, 3 * samples))
    results: dict[str, Any] = {"ours": {}, "lambdalith": {}, "floor": {}}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as name:
        folder = Path(name)
        for _ in range(samples):
            for logical_id, function in template.items():
                operation = FUNCTION_OPERATION[logical_id]
                delete_id = next(deletes) if operation == "delete" else task_id
                spec = _spec("ours", function, conninfo, _calls("ours", [operation], task_id, delete_id), invocations)
                results["ours"].setdefault(logical_id, []).append(_run(spec, environment, folder)["peak_rss_kib"])
            every = ["get", *OPERATIONS]  # the first call is checked, then every route in turn
            for kind in ("lambdalith", "floor"):
                calls = _calls(kind, every, task_id, next(deletes))
                spec = _spec(kind, everything["GetTaskFunction"], conninfo, calls, invocations)
                results[kind].setdefault("all routes", []).append(_run(spec, environment, folder)["peak_rss_kib"])
    return {kind: {name: max(values) / 1024 for name, values in by_name.items()} for kind, by_name in results.items()}
