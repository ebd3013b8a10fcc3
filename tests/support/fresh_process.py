"""Invoking handlers in a fresh Python process: a cold start with an environment of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from local.template import PROJECT_ROOT

# Reads [[logical id, event], ...] on stdin; prints [{"response": ..., "seconds": ...}, ...].
_SCRIPT = """
import json, sys, time
from local.emulator.context import LambdaContext
from local.emulator.loader import load_handler
from local.template import load_functions
functions = load_functions()
results = []
for logical_id, event in json.load(sys.stdin):
    function = functions[logical_id]
    started = time.monotonic()
    response = load_handler(function)(event, LambdaContext(function.logical_id, 128, function.timeout_s))
    results.append({"response": response, "seconds": time.monotonic() - started})
sys.stdout.write("\\n" + json.dumps(results) + "\\n")
"""


def invoke_in_fresh_process(
    calls: Sequence[tuple[str, dict[str, Any]]], env: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Run each (function, event) in one new process with `env` over this one's environment."""
    outcomes, _ = invoke_in_fresh_process_with_output(calls, env)
    return outcomes


def invoke_in_fresh_process_with_output(
    calls: Sequence[tuple[str, dict[str, Any]]], env: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """As invoke_in_fresh_process, with the lines the handlers printed (logs, EMF metrics)."""
    *printed, last = run_python(_SCRIPT, env, stdin=json.dumps(list(calls))).strip().splitlines()
    outcomes: list[dict[str, Any]] = json.loads(last)
    return outcomes, printed


def run_python(script: str, env: Mapping[str, str], *, stdin: str = "", timeout_s: float = 120) -> str:
    """Run `script` in a new interpreter in the project folder, `env` over this one's; its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def load_event(name: str) -> dict[str, Any]:
    """An event of events/."""
    event: dict[str, Any] = json.loads((PROJECT_ROOT / "events" / name).read_text())
    return event
