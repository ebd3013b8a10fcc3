"""The issue's targets, judged from one run's figures.

A ratio target also says whether it is within noise of its bound: the bound lies inside the 95%
bootstrap interval of the ratio (bench/stats.py `median_ratio`, from the run's own paired
repetitions). Such a verdict can flip from one run to the next, and the report says so.
"""

from __future__ import annotations

from typing import Any

from . import snapstart
from .workload import VARIANTS, WARM_OPERATIONS, base_operation

COLD_START_RATIO = 0.45  # x the lambdalith's
WARM_FLOOR_RATIO = 1.5  # x the floor's
WARM_LAMBDALITH_RATIO = 0.25  # x the lambdalith's
ROUND_TRIPS = 1
LOCAL_RUNTIME_OVERHEAD_MS = 1.0
LAYER_UNZIPPED_MIB = 30.0


def _target(  # noqa: PLR0917  # one target is these six values
    name: str, value: float, unit: str, goal: str, passed: bool, detail: str
) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "goal": goal, "pass": passed, "detail": detail}


def _ratio_target(name: str, ratio: dict[str, Any], unit: str, bound: float, detail: str) -> dict[str, Any]:
    """A target `ratio <= bound`, with the ratio's interval and whether the bound lies in it."""
    target = _target(name, ratio["value"], unit, f"<= {bound}", ratio["value"] <= bound, detail)
    target["interval"] = [ratio["low"], ratio["high"]]
    target["within_noise"] = ratio["low"] <= bound <= ratio["high"]
    return target


def judge(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its measured value, its goal and whether it is met."""
    targets = []
    for function, by_kind in figures["cold_start"].items():
        ours = by_kind["ours"]["import_and_first_invocation"]["median"]
        lambdalith = by_kind["lambdalith"]["import_and_first_invocation"]["median"]
        detail = f"import + first invocation, median: ours {ours:.0f} ms, lambdalith {lambdalith:.0f} ms"
        ratio = by_kind["ratio_to_lambdalith"]
        targets.append(_ratio_target(f"cold start {function}", ratio, "x lambdalith", COLD_START_RATIO, detail))
    warm, ratios = figures["warm_latency_us"], figures["warm_ratios"]
    for operation in WARM_OPERATIONS:
        ours = warm["ours"][operation]["median"]
        floor = min(warm[name][operation]["median"] for name in ("floor", "floor_client_cursor"))
        base = base_operation(operation)
        lambdalith = warm["lambdalith"][base]["median"]
        # The lambdalith has no keys or ETags: a variant is compared with its plain operation.
        its = f"lambdalith ({base}) " if operation in VARIANTS else "lambdalith "
        detail = f"median: ours {ours:.0f} us, floor {floor:.0f} us, {its}{lambdalith:.0f} us"
        to_floor, to_lambdalith = ratios[operation]["floor"], ratios[operation]["lambdalith"]
        targets.append(_ratio_target(f"warm {operation} vs floor", to_floor, "x floor", WARM_FLOOR_RATIO, detail))
        targets.append(
            _ratio_target(
                f"warm {operation} vs lambdalith", to_lambdalith, "x lambdalith", WARM_LAMBDALITH_RATIO, detail
            )
        )
    for operation, found in figures["round_trips"]["ours"].items():
        count = found["round_trips"]
        lambdalith_trips = figures["round_trips"]["lambdalith"].get(operation)
        detail = f"lambdalith: {lambdalith_trips['round_trips'] if lambdalith_trips else 'n/a (no such operation)'}"
        targets.append(
            _target(f"round trips {operation}", count, "round trips", f"== {ROUND_TRIPS}", count == ROUND_TRIPS, detail)
        )
    overhead = figures["local_runtime_overhead_ms"]
    detail = "HTTP get p50 at concurrency 1 minus the in-process get median"
    passed = overhead <= LOCAL_RUNTIME_OVERHEAD_MS
    targets.append(
        _target("local runtime overhead p50", overhead, "ms", f"<= {LOCAL_RUNTIME_OVERHEAD_MS}", passed, detail)
    )
    layer = figures["layer"]
    size = layer["unzipped_mib"]
    detail = f"{layer['method']}; zipped {layer['zipped_mib']:.1f} MiB" if layer["zipped_mib"] else layer["method"]
    targets.append(
        _target("layer unzipped", size, "MiB", f"<= {LAYER_UNZIPPED_MIB}", size <= LAYER_UNZIPPED_MIB, detail)
    )
    targets += snapstart.judge(figures["snapstart"])
    return targets
