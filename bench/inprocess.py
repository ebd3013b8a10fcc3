"""The in-process measures, each run in a fresh worker process (`python -m bench.inprocess`):
warm latency per operation, and round trips per operation counted on the wire.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from local.devdb.pgwire import Relay

from .contenders import FLOORS, Contender, all_contenders
from .stats import median_ratio, summary
from .workload import WARM_OPERATIONS, Tasks, base_operation


def _run_once(contender: Contender, operation: str, tasks: Tasks) -> float:
    """Run one operation on the tasks it targets, check it and record what it answered; seconds."""
    call = contender.prepare(operation, *tasks.target(operation))
    start = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - start
    tasks.record(operation, contender.check(operation, result))
    return elapsed


def warm_latency(conninfo: str, task_id: int, repetitions: int, warm_up: int) -> dict[str, Any]:
    """Median and p99 (microseconds) per contender and operation, measured interleaved, and the
    ratios the targets judge, each with its bootstrap interval.

    Each repetition runs every operation once per contender, in a contender order that rotates,
    so machine noise falls on all of them alike; delete removes the task that create made, and
    the guarded operations work on the one create_keyed made.
    """
    contenders = all_contenders(conninfo)
    samples = {c.name: {op: list[float]() for op in c.operations} for c in contenders}
    for repetition in range(warm_up + repetitions):
        shift = repetition % len(contenders)
        order = contenders[shift:] + contenders[:shift]
        tasks = {c.name: Tasks(task_id, {}) for c in contenders}
        for operation in WARM_OPERATIONS:
            for contender in order:
                if operation not in contender.operations:
                    continue
                elapsed = _run_once(contender, operation, tasks[contender.name])
                if repetition >= warm_up:
                    samples[contender.name][operation].append(elapsed)
    return {
        "latency_us": {name: {op: summary(values) for op, values in ops.items()} for name, ops in samples.items()},
        "ratios": _ratios(samples),
    }


def _ratios(samples: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, Any]]:
    """Per operation, ours to the floor (the faster binding's) and to the lambdalith's plain
    operation: the ratio of medians and its interval from the paired repetitions."""
    ratios = {}
    for operation in WARM_OPERATIONS:
        ours = samples["ours"][operation]
        floors = [samples[name][operation] for name in FLOORS]
        ratios[operation] = {
            "floor": median_ratio(ours, floors),
            "lambdalith": median_ratio(ours, [samples["lambdalith"][base_operation(operation)]]),
        }
    return ratios


def _on_the_wire(wire: Relay, contender: Contender, operation: str, tasks: Tasks) -> tuple[int, Counter[str]]:
    """Run one operation; its round trips and the client's messages by type."""
    trips, sent = wire.round_trips, len(wire.messages())
    _run_once(contender, operation, tasks)
    # Typed messages only: not the untyped startup and encryption requests of a new connection.
    messages = Counter(message.kind for message in wire.messages()[sent:] if message.kind)
    return wire.round_trips - trips, messages


def round_trips(conninfo: str, task_id: int, samples: int) -> dict[str, Any]:
    """Round trips and client messages per contender and operation on a warm connection."""
    with Relay(conninfo) as wire:
        contenders = all_contenders(wire.conninfo)
        found: dict[str, dict[str, Any]] = {c.name: {} for c in contenders}
        for contender in contenders:
            operations = [op for op in (*WARM_OPERATIONS, "health") if op in (*contender.operations, "health")]
            counts: dict[str, list[int]] = {op: [] for op in operations}
            messages: dict[str, dict[str, int]] = {}
            for sample in range(samples + 1):  # the first warms the connection and is not counted
                tasks = Tasks(task_id, {})
                for operation in operations:
                    trips, sent = _on_the_wire(wire, contender, operation, tasks)
                    if sample:
                        counts[operation].append(trips)
                        messages[operation] = dict(sorted(sent.items()))
            for operation in operations:
                values = counts[operation]
                found[contender.name][operation] = {
                    "round_trips": max(values),
                    "stable": min(values) == max(values),
                    "client_messages": messages[operation],
                }
    return found


def main(argv: list[str] | None = None) -> int:
    """Run one measure with its JSON arguments; write its JSON result."""
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("measure", choices=("warm", "round_trips"))
    parser.add_argument("arguments", type=Path)
    parser.add_argument("result", type=Path)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    options = json.loads(args.arguments.read_text())
    result = warm_latency(**options) if args.measure == "warm" else round_trips(**options)
    args.result.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
