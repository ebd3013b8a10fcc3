"""The local runtime's bound on imports at once across functions (local/emulator/pool.py).

Six functions each start up to one import per CPU; without a bound shared by the server, a burst
over all of them on a busy machine ran every import past the init limit (docs/snapstart.md). Here
three functions whose import takes a while share a bound of one: their imports never overlap.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from local.emulator.pool import FunctionPool, Status
from local.template import load_functions

APP = """
import os, time
log = os.environ["IMPORT_LOG"]
with open(log, "a") as out:
    out.write(f"start {time.monotonic()}\\n")
time.sleep(0.3)
with open(log, "a") as out:
    out.write(f"end {time.monotonic()}\\n")


def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""


def _template(folder: Path, import_log: Path) -> Path:
    (folder / "code").mkdir()
    (folder / "code" / "app.py").write_text(APP)
    functions = {
        f"Slow{index}Function": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"CodeUri": "code/", "Handler": "app.handler", "Runtime": "python3.13", "Timeout": 30},
        }
        for index in range(3)
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Globals": {"Function": {"Environment": {"Variables": {"IMPORT_LOG": str(import_log)}}}},
        "Resources": functions,
    }
    path = folder / "template.yaml"
    path.write_text(json.dumps(template))  # JSON is YAML
    return path


def test_imports_across_functions_share_one_bound(tmp_path: Path) -> None:
    import_log = tmp_path / "imports.log"
    functions = load_functions(_template(tmp_path, import_log))

    async def burst() -> list[Status]:
        cold_starts = asyncio.Semaphore(1)
        pools = [FunctionPool(function, limit=2, cold_starts=cold_starts) for function in functions.values()]
        try:
            # Two requests per function at once: six cold starts asked for, one import at a time.
            outcomes = await asyncio.gather(*(pool.invoke({}) for pool in pools for _ in range(2)))
        finally:
            await asyncio.gather(*(pool.close() for pool in pools))
        return [outcome.status for outcome in outcomes]

    statuses = asyncio.run(burst())
    assert statuses == [Status.OK] * 6
    events = [line.split() for line in import_log.read_text().splitlines()]
    starts = sum(1 for kind, _ in events if kind == "start")
    assert 3 <= starts <= 6  # each function imported at least once
    # With one import at a time, every start is followed by its own end before the next start.
    assert [kind for kind, _ in events] == ["start", "end"] * starts
