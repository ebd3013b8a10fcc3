"""Where one of our handlers spends a warm invocation: `python -m bench.profile GetTaskFunction`.

Runs the function's real handler in-process against a scratch database (embedded, or on the
server DATABASE_URL names) under pyinstrument and prints the call tree. This is how the
benchmark's misses were traced to their causes (see bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings

from pyinstrument import Profiler

from .contenders import Ours, environment, product_functions
from .pg import bench_database
from .workload import FUNCTION_OPERATION, seed, spare_tasks


def main(argv: list[str] | None = None) -> int:
    """Profile warm invocations of one function and print the tree."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("function", choices=sorted(FUNCTION_OPERATION), help="logical id in template.yaml")
    parser.add_argument("--calls", type=int, default=2000, help="warm invocations to profile (default 2000)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    operation = FUNCTION_OPERATION[args.function]
    with bench_database(os.environ.get("DATABASE_URL") or None) as conninfo:
        task_id = seed(conninfo)
        os.environ.update(environment(conninfo))
        ours = Ours(product_functions(conninfo))
        targets = spare_tasks(conninfo, args.calls + 1) if operation == "delete" else [task_id] * (args.calls + 1)
        calls = [ours.prepare(operation, target) for target in targets]
        profiler = Profiler(interval=0.0002)
        # The functions print their EMF metrics on stdout; the tree goes to stderr.
        with open(os.devnull, "w", encoding="utf-8") as devnull, contextlib.redirect_stdout(devnull):
            calls[0]()  # the cold start is not what this looks at
            profiler.start()
            for call in calls[1:]:
                call()
            profiler.stop()
    sys.stderr.write(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
