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

from .contenders import Contender, all_contenders
from .stats import summary
from .workload import OPERATIONS


def _run_once(contender: Contender, operation: str, task_id: int) -> tuple[float, int | None]:
    call = contender.prepare(operation, task_id)
    start = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - start
    return elapsed, contender.check(operation, result)


def warm_latency(conninfo: str, task_id: int, repetitions: int, warm_up: int) -> dict[str, Any]:
    """Median and p99 (microseconds) per contender and operation, measured interleaved.

    Each repetition runs every operation once per contender, in a contender order that rotates,
    so machine noise falls on all of them alike; delete removes the task that create made.
    """
    contenders = all_contenders(conninfo)
    samples: dict[str, dict[str, list[float]]] = {c.name: {op: [] for op in OPERATIONS} for c in contenders}
    for repetition in range(warm_up + repetitions):
        shift = repetition % len(contenders)
        order = contenders[shift:] + contenders[:shift]
        created: dict[str, int] = {}
        for operation in OPERATIONS:
            for contender in order:
                target = created[contender.name] if operation == "delete" else task_id
                elapsed, new_id = _run_once(contender, operation, target)
                if new_id is not None:
                    created[contender.name] = new_id
                if repetition >= warm_up:
                    samples[contender.name][operation].append(elapsed)
    return {name: {op: summary(values) for op, values in ops.items()} for name, ops in samples.items()}


def _on_the_wire(
    wire: Relay, contender: Contender, operation: str, task_id: int
) -> tuple[int | None, int, Counter[str]]:
    """Run one operation; the id it created, its round trips and the client's messages by type."""
    trips, sent = wire.round_trips, len(wire.messages())
    _, new_id = _run_once(contender, operation, task_id)
    # Typed messages only: not the untyped startup and encryption requests of a new connection.
    messages = Counter(message.kind for message in wire.messages()[sent:] if message.kind)
    return new_id, wire.round_trips - trips, messages


def round_trips(conninfo: str, task_id: int, samples: int) -> dict[str, Any]:
    """Round trips and client messages per contender and operation on a warm connection."""
    operations = (*OPERATIONS, "health")
    with Relay(conninfo) as wire:
        contenders = all_contenders(wire.conninfo)
        found: dict[str, dict[str, Any]] = {c.name: {} for c in contenders}
        for contender in contenders:
            counts: dict[str, list[int]] = {op: [] for op in operations}
            messages: dict[str, dict[str, int]] = {}
            for sample in range(samples + 1):  # the first warms the connection and is not counted
                created = task_id
                for operation in operations:
                    target = created if operation == "delete" else task_id
                    new_id, trips, sent = _on_the_wire(wire, contender, operation, target)
                    created = new_id if new_id is not None else created
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
