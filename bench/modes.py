"""How much each kind of run measures: full (`make bench`), quick (QUICK=1) and tiny (the test)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .workload import FUNCTION_OPERATION

ALL_FUNCTIONS = tuple(FUNCTION_OPERATION)


@dataclass(frozen=True)
class Mode:
    """Repetitions of every measure; the targets are the same in every mode."""

    name: str
    warm_repetitions: int  # per operation and contender, interleaved
    warm_up: int  # untimed calls per operation and contender first
    round_trip_samples: int  # per operation and contender
    cold_samples: int  # fresh processes per function and contender
    cold_functions: tuple[str, ...]  # and the functions whose memory is measured
    memory_invocations: int  # warm invocations before peak RSS is read
    http_seconds: int  # per server, operation and concurrency, per round (wrk counts whole seconds)
    http_rounds: int
    http_concurrency: tuple[int, ...] = (1, 8, 32)
    sam_build: bool = True  # False: the layer's size is estimated from the installed packages

    def as_dict(self) -> dict[str, Any]:
        """The mode as JSON-ready data."""
        return asdict(self)


FULL = Mode(
    name="full",
    warm_repetitions=2000,
    warm_up=50,
    round_trip_samples=5,
    cold_samples=15,
    cold_functions=ALL_FUNCTIONS,
    memory_invocations=200,
    http_seconds=2,
    http_rounds=2,
)
# Quick mode must give the full run's verdicts: with 100 warm repetitions and 3 cold starts, ratios
# 0.01 from their bound came out on the other side of it (within noise) one run in three.
QUICK = Mode(
    name="quick",
    warm_repetitions=400,
    warm_up=20,
    round_trip_samples=2,
    cold_samples=7,
    cold_functions=("CreateTaskFunction", "GetTaskFunction"),
    memory_invocations=20,
    http_seconds=1,
    # Two rounds, as in full, whose better round's latency counts: a round's get at concurrency
    # 1 runs right after every server's create at concurrency 32, and one round alone measured
    # the local runtime's overhead at 1.6-2.4 ms where full runs give 0.6-0.9 ms.
    http_rounds=2,
)
TINY = Mode(
    name="tiny",
    warm_repetitions=3,
    warm_up=1,
    round_trip_samples=1,
    cold_samples=1,
    cold_functions=("GetTaskFunction",),
    memory_invocations=2,
    http_seconds=1,
    http_rounds=1,
    http_concurrency=(1, 2),
    sam_build=False,
)
MODES = {mode.name: mode for mode in (FULL, QUICK, TINY)}
