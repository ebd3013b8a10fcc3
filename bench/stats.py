"""Summaries of samples: median and p99, in the unit given."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy


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


def median_ratio(
    numerator: Sequence[float], denominators: Sequence[Sequence[float]], resamples: int = 2000
) -> dict[str, float]:
    """median(numerator) / the least median of `denominators`, and its 95% bootstrap interval.

    The samples are paired (index i of each was measured in the same repetition, side by side),
    so each resample draws whole repetitions: the interval is the run's own noise on the ratio a
    target judges. The seed is fixed, so the same samples give the same interval.
    """
    top = numpy.asarray(numerator, dtype=float)
    bottoms = numpy.asarray(denominators, dtype=float)
    if top.size == 0 or bottoms.ndim != 2 or bottoms.shape[1] != top.size:
        raise ValueError("paired samples of equal, non-zero length needed")
    draws = numpy.random.default_rng(0).integers(0, top.size, size=(resamples, top.size))
    ratios = numpy.median(top[draws], axis=1) / numpy.median(bottoms[:, draws], axis=2).min(axis=0)
    low, high = numpy.percentile(ratios, [2.5, 97.5])
    value = float(numpy.median(top)) / float(numpy.median(bottoms, axis=1).min())
    return {"value": value, "low": float(low), "high": float(high), "resamples": resamples}
