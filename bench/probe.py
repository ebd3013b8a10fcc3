"""One cold start: run as a fresh process (`python bench/probe.py SPEC_FILE`), it imports one
handler, completes its first invocation (connecting to the database), and writes its timings.

It is a plain script, not a module of the `bench` package, so that nothing but the contender's
own imports happen before its first invocation. Its clock starts on its first line: the time
from the parent's spawn to that line is the interpreter's start, measured by the parent
(perf_counter is CLOCK_MONOTONIC, the same clock in both processes).
"""

import time

STARTED = time.perf_counter()
STARTED_CPU = time.process_time()

import json  # noqa: E402  # after the clock starts: every contender pays for it alike
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class Context:
    """The attributes of Lambda's context object that the handlers read."""

    function_name = "probe"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/probe"
    log_stream_name = "probe"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out."""
        return 10_000


def load(spec: dict[str, Any]) -> Any:
    """Import the contender; its handler (ours, lambdalith) or its database module (floor)."""
    sys.path[:0] = spec["path"]
    if spec["kind"] == "ours":
        import app  # type: ignore[import-not-found]  # noqa: PLC0415  # the function's CodeUri, as Lambda imports it

        return app.lambda_handler
    if spec["kind"] == "lambdalith":
        from bench.baselines.lambdalith import lambda_handler  # noqa: PLC0415

        return lambda_handler
    import psycopg  # noqa: PLC0415

    return psycopg


def invoke(spec: dict[str, Any], target: Any, call: dict[str, Any], *, check: bool) -> None:
    """One invocation; the floor connects on its first, as the handlers do."""
    if spec["kind"] != "floor":
        result = target(call["event"], Context())
        if check and result.get("statusCode") != call["status"]:
            raise RuntimeError(f"answered {result.get('statusCode')}: {result.get('body')}")
        return
    if spec.get("conn") is None:
        spec["conn"] = target.connect(spec["conninfo"], autocommit=True, prepare_threshold=None)
    with spec["conn"].cursor() as cursor:
        cursor.execute(call["query"], call["params"])
        if cursor.description is not None:
            cursor.fetchall()


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM).

    Not getrusage's ru_maxrss: Linux carries the pre-exec image's peak into it, so a process
    spawned by a large parent reports at least the parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main() -> None:
    """Import, first invocation, then (for memory) more warm invocations; write the figures."""
    with open(sys.argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    loaded = time.perf_counter()
    target = load(spec)
    imported = time.perf_counter()
    invoke(spec, target, spec["calls"][0], check=True)
    invoked = time.perf_counter()
    invoked_cpu = time.process_time()
    rss_first_kib = peak_rss_kib()
    for _ in range(spec["warm_invocations"]):
        for call in spec["calls"][1:] or spec["calls"]:
            invoke(spec, target, call, check=False)
    figures = {
        "started": STARTED,
        "spec_read_s": loaded - STARTED,
        "import_s": imported - loaded,
        "first_invocation_s": invoked - imported,
        "import_and_first_invocation_s": invoked - loaded,
        # CPU time from the first line: what a loaded machine's waiting for a core does not inflate.
        "cpu_s": invoked_cpu - STARTED_CPU,
        "peak_rss_first_kib": rss_first_kib,
        "peak_rss_kib": peak_rss_kib(),
    }
    with open(spec["result"], "w", encoding="utf-8") as file:
        json.dump(figures, file)


main()
