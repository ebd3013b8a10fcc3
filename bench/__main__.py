"""`python -m bench [--quick]`: run the benchmarks and write bench/results/."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from .modes import MODES
from .report import verdict
from .run import run

RESULTS = Path(__file__).with_name("results")


def main(argv: list[str] | None = None) -> int:
    """Run, write the results, print the targets; exit 0 even when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--mode", choices=sorted(MODES), default="full", help="how much to measure (default full)")
    parser.add_argument("--quick", action="store_const", const="quick", dest="mode", help="the same as --mode quick")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bench: %(message)s"))
    logging.getLogger("bench").addHandler(handler)  # not the root: pgserver logs every command
    logging.getLogger("bench").setLevel(logging.INFO)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    command = "make bench QUICK=1" if args.mode == "quick" else "make bench"
    results = run(MODES[args.mode], args.out, server_url=os.environ.get("DATABASE_URL") or None, command=command)
    out = sys.stdout
    for target in results["targets"]:
        out.write(
            f"{verdict(target['pass'], target.get('within_noise', False)):>18}  {target['name']}: "
            f"{target['value']:.3g} {target['unit']} (goal {target['goal']}{_interval(target)})\n"
        )
    out.write(f"Results in {args.out} ({results['meta']['total_seconds']} s)\n")
    return 0


def _interval(target: dict[str, Any]) -> str:
    low_high = target.get("interval")
    return f"; 95% interval {low_high[0]:.3g}-{low_high[1]:.3g}" if low_high else ""


if __name__ == "__main__":
    sys.exit(main())
