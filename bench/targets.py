"""The issue's targets, judged from one run's figures."""

from __future__ import annotations

from typing import Any

from . import snapstart
from .workload import OPERATIONS

COLD_START_RATIO = 0.5  # x the lambdalith's
WARM_FLOOR_RATIO = 2.0  # x the floor's
WARM_LAMBDALITH_RATIO = 0.25  # x the lambdalith's
ROUND_TRIPS = 1
LOCAL_RUNTIME_OVERHEAD_MS = 1.0
LAYER_UNZIPPED_MIB = 30.0


def _target(  # noqa: PLR0917  # one target is these six values
    name: str, value: float, unit: str, goal: str, passed: bool, detail: str
) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "goal": goal, "pass": passed, "detail": detail}


def judge(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its measured value, its goal and whether it is met."""
    targets = []
    for function, by_kind in figures["cold_start"].items():
        ours = by_kind["ours"]["import_and_first_invocation"]["median"]
        lambdalith = by_kind["lambdalith"]["import_and_first_invocation"]["median"]
        ratio = ours / lambdalith
        detail = f"import + first invocation, median: ours {ours:.0f} ms, lambdalith {lambdalith:.0f} ms"
        targets.append(
            _target(
                f"cold start {function}",
                ratio,
                "x lambdalith",
                f"<= {COLD_START_RATIO}",
                ratio <= COLD_START_RATIO,
                detail,
            )
        )
    warm = figures["warm_latency_us"]
    for operation in OPERATIONS:
        ours, lambdalith = warm["ours"][operation]["median"], warm["lambdalith"][operation]["median"]
        # The floor is the faster of psycopg's two bindings: whichever the product uses, the
        # other is within its reach.
        floor = min(warm[name][operation]["median"] for name in ("floor", "floor_client_cursor"))
        detail = f"median: ours {ours:.0f} us, floor {floor:.0f} us, lambdalith {lambdalith:.0f} us"
        to_floor, to_lambdalith = ours / floor, ours / lambdalith
        targets.append(
            _target(
                f"warm {operation} vs floor",
                to_floor,
                "x floor",
                f"<= {WARM_FLOOR_RATIO}",
                to_floor <= WARM_FLOOR_RATIO,
                detail,
            )
        )
        targets.append(
            _target(
                f"warm {operation} vs lambdalith",
                to_lambdalith,
                "x lambdalith",
                f"<= {WARM_LAMBDALITH_RATIO}",
                to_lambdalith <= WARM_LAMBDALITH_RATIO,
                detail,
            )
        )
    for operation, found in figures["round_trips"]["ours"].items():
        count = found["round_trips"]
        detail = f"lambdalith: {figures['round_trips']['lambdalith'][operation]['round_trips']}"
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
