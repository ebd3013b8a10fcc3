"""A worker's environment: what Lambda sets, the template's variables, and the overrides file.

The overrides file has the format of `sam local --env-vars`: `{"FunctionLogicalId": {"VAR":
"value"}, "Parameters": {"VAR": "value"}}`, where `Parameters` applies to every function and
the function's own entry wins. As with `sam local`, only variables the template declares are
overridden: a variable that is not in the template would not exist in AWS either.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.template import PSEUDO_PARAMETERS, Function

# Taken from the developer's environment, as `sam local` passes them to its containers.
PASSED_THROUGH = (
    "PATH",
    "HOME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def read_env_vars_file(path: Path) -> dict[str, dict[str, str]]:
    """The overrides file, its values as strings."""
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(value, dict) for value in data.values()):
        raise ValueError(f'{path}: expected {{"FunctionLogicalId": {{"VAR": "value"}}, ...}}')
    return {
        name: {key: "" if value is None else str(value) for key, value in env.items()} for name, env in data.items()
    }


def apply_overrides(
    functions: Mapping[str, Function], overrides: Mapping[str, Mapping[str, str]]
) -> tuple[dict[str, Function], list[str]]:
    """The functions with the overrides applied, and the overrides ignored (not in the template)."""
    result: dict[str, Function] = {}
    ignored: list[str] = []
    for name, function in functions.items():
        wanted = {**overrides.get("Parameters", {}), **overrides.get(name, {})}
        environment = dict(function.environment)
        for key, value in wanted.items():
            if key in environment:
                environment[key] = value
            elif key in overrides.get(name, {}):
                ignored.append(f"{name}.{key}")
        result[name] = dataclasses.replace(function, environment=environment)
    return result, ignored


def lambda_environment(function: Function) -> dict[str, str]:
    """Every variable of the function's worker process."""
    region = str(PSEUDO_PARAMETERS["AWS::Region"])
    environment = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    environment.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST/local",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "LAMBDA_TASK_ROOT": str(function.code_uri),
            "_HANDLER": function.handler,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            # What `sam local` sets: Powertools' Tracer stays off, as there is no X-Ray daemon.
            "AWS_SAM_LOCAL": "true",
            # Logs reach the terminal as they are written, even from a handler killed on timeout.
            "PYTHONUNBUFFERED": "1",
            # Bytecode caches key on whole-second mtimes: two saves within a second could
            # otherwise serve a stale .pyc after a reload.
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if function.snap_start:
        # As in Lambda: the init ran for a snapshot, and SnapStart functions do not get the log
        # group and stream variables (their environments are not tied to one log stream).
        environment["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
        del environment["AWS_LAMBDA_LOG_GROUP_NAME"], environment["AWS_LAMBDA_LOG_STREAM_NAME"]
    environment.update(function.environment)
    return environment
