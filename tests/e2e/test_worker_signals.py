"""Ctrl-C reaches the whole process group of `make run`, its workers included; a worker leaves
stopping to the gateway, even when the signal comes while it is still starting
(local/emulator/snapshot.launch, local/emulator/worker.main).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from local.emulator.snapshot import launch
from local.template import load_functions

APP = """
import time
time.sleep(0.2)  # an import that takes a while


def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""


def _template(folder: Path) -> Path:
    (folder / "code").mkdir()
    (folder / "code" / "app.py").write_text(APP)
    function = {"CodeUri": "code/", "Handler": "app.handler", "Runtime": "python3.13", "Timeout": 30}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"SlowFunction": {"Type": "AWS::Serverless::Function", "Properties": function}},
    }
    path = folder / "template.yaml"
    path.write_text(json.dumps(template))  # JSON is YAML
    return path


def test_a_worker_ignores_ctrl_c_from_its_first_instant(tmp_path: Path) -> None:
    [function] = load_functions(_template(tmp_path)).values()

    async def interrupt_while_starting() -> tuple[int | None, bytes]:
        process, ours = await launch(function, asyncio.subprocess.PIPE)
        try:
            # At once and for a while: the interpreter's start, the worker's imports, the handler's.
            for _ in range(20):
                process.send_signal(signal.SIGINT)
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            alive = process.returncode
        finally:
            ours.close()  # the worker's end of the socket sees EOF and it exits
        assert process.stdout is not None
        output = await process.stdout.read()
        await process.wait()
        return alive, output

    returncode, output = asyncio.run(interrupt_while_starting())
    assert returncode is None, output.decode(errors="replace")
    assert b"KeyboardInterrupt" not in output


def test_overlapping_launches_leave_the_server_able_to_receive_ctrl_c(tmp_path: Path) -> None:
    [function] = load_functions(_template(tmp_path)).values()

    async def launch_three_at_once() -> None:
        launched = await asyncio.gather(*(launch(function, asyncio.subprocess.DEVNULL) for _ in range(3)))
        for process, ours in launched:
            ours.close()
            await process.wait()

    asyncio.run(launch_three_at_once())
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
