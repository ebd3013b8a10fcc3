"""The benchmark's code runs end to end (tiny counts) and its results have the promised shape.

Benchmarks are not tests: nothing here asserts how fast anything is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.modes import TINY
from bench.run import run
from bench.workload import OPERATIONS, WARM_OPERATIONS

pytestmark = pytest.mark.xdist_group("bench")


def test_a_tiny_run_writes_every_figure_and_target(server_url: str, tmp_path: Path) -> None:
    results = run(TINY, tmp_path, server_url=server_url, command="test")

    written = json.loads((tmp_path / "results.json").read_text())
    assert written["targets"] == results["targets"]
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.startswith("# Benchmark results")
    load = results["meta"]["load_average"]
    assert set(load) == set(results["meta"]["phase_seconds"])
    for name, before_after in load.items():
        assert len(before_after["before"]) == len(before_after["after"]) == 3
        assert f"| {name} |" in markdown
    for plot in ("warm_latency.png", "cold_start.png", "http_throughput.png"):
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG")

    targets = {target["name"]: target for target in results["targets"]}
    expected = {f"cold start {name}" for name in TINY.cold_functions}
    expected |= {f"warm {op} vs {other}" for op in WARM_OPERATIONS for other in ("floor", "lambdalith")}
    expected |= {f"round trips {op}" for op in (*WARM_OPERATIONS, "health")}
    expected |= {"local runtime overhead p50", "layer unzipped"}
    expected |= {
        "local worker start, snapshot vs cold",
        "burst p99 against a cold make run, SnapStart vs without",
        "workers' PSS after a soak, SnapStart vs without",
    }
    assert set(targets) == expected
    for target in targets.values():
        assert set(target) >= {"name", "value", "goal", "pass"}
        assert isinstance(target["pass"], bool)
        assert target["value"] > 0
    for name, target in targets.items():
        if name.startswith(("warm ", "cold start ")):  # the ratios: with their interval
            low, high = target["interval"]
            assert low <= high
            assert isinstance(target["within_noise"], bool)

    trips = results["figures"]["round_trips"]
    for contender, operations in (("ours", WARM_OPERATIONS), ("lambdalith", OPERATIONS), ("floor", WARM_OPERATIONS)):
        assert set(trips[contender]) == {*operations, "health"}
        for operation in (*operations, "health"):
            count = trips[contender][operation]["round_trips"]
            assert isinstance(count, int)
            assert count >= 1

    warm = results["figures"]["warm_latency_us"]
    assert set(warm) == {"ours", "lambdalith", "floor", "floor_client_cursor"}
    for name, by_operation in warm.items():
        assert set(by_operation) == set(OPERATIONS if name == "lambdalith" else WARM_OPERATIONS)
        assert all(found["n"] == TINY.warm_repetitions for found in by_operation.values())

    servers = results["figures"]["http"]
    assert set(servers) == {"local runtime", "lambdalith uvicorn x1", "lambdalith uvicorn x2"}
    for by_operation in servers.values():
        for by_concurrency in by_operation.values():
            assert set(by_concurrency) == {str(c) for c in TINY.http_concurrency}
            assert all(found["requests"] > 0 and found["failures"] == 0 for found in by_concurrency.values())
