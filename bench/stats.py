"""Summaries of samples: median and p99, in the unit given."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank, so p99 is a value that was measured."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(seconds: Sequence[float], scale: float = 1e6) -> dict[str, Any]:
    """Median, p99, min and count of samples in seconds, scaled (1e6: microseconds)."""
    if not seconds:
        raise ValueError("no samples")
    return {
        "median": statistics.median(seconds) * scale,
        "p99": percentile(seconds, 99) * scale,
        "min": min(seconds) * scale,
        "n": len(seconds),
    }
