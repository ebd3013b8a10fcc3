"""What a handler imports: only what a request needs, so a heavy import shows up here as a failed
test, not later as a slower cold start (issue 10). Structural, not timed.

Each function of template.yaml is imported in a fresh interpreter the way Lambda imports it (its
CodeUri and the layer on sys.path, then `import app`), and the API functions then serve a request
that reaches the database. The third-party packages that appear must be on ALLOWED below; those
in FORBIDDEN are named in the failure because they are the known regressions: the lambdalith's
stack, the X-Ray SDK that Powertools' Tracer pulls in, boto3 outside the AWS credential modes.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.template import PROJECT_ROOT, Function

LAYER = PROJECT_ROOT / "layers" / "tasks_core"

# Third-party top-level modules a function may import, and why it needs each.
ALLOWED = {
    "app": "the function's own module",
    "tasks_core": "the layer",
    "aws_lambda_powertools": "logs and metrics (its event handler only for the OpenAPI document: FORBIDDEN_SUBMODULES)",
    "pydantic": "the models and their validation",
    "pydantic_core": "pydantic's compiled core",
    "annotated_types": "pydantic's constraint types",
    "typing_extensions": "pydantic's and Powertools' typing backports",
    "typing_inspection": "pydantic's introspection of annotations",
    "psycopg": "the PostgreSQL driver",
    "psycopg_binary": "psycopg's compiled implementation with its bundled libpq",
    "cython_runtime": "the Cython runtime that psycopg_binary's compiled modules register",
    "jmespath": "imported by Powertools at import (aws_lambda_powertools.utilities.jmespath_utils)",
    # aws_lambda_powertools/shared/user_agent.py runs `import botocore` on Powertools' import to
    # see whether it may add its user agent to boto sessions: the package's __init__ only
    # (logging, os, re; about 1 ms). None of botocore's submodules may follow (below).
    "botocore": "the bare package, probed by Powertools' user-agent module",
    # One module of a few functions; Lambda's Python runtimes include it (never in the layer).
    "snapshot_restore_py": "SnapStart's runtime hooks, which tasks_core/snapstart.py registers",
}
FORBIDDEN = (
    "boto3",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "mangum",
    "asyncpg",
    "jinja2",
    "aws_xray_sdk",
    "wrapt",
    "uvicorn",
    "httptools",
    "requests",
    "urllib3",
    "yaml",
    "fastjsonschema",
    "local",
    "tests",
    "bench",
)
# Parts of allowed packages that no function may import: botocore beyond its bare package
# (above), outside the AWS SDK's users; and Powertools' event handler, whose package
# imports every resolver it has (AppSync, Bedrock agents, VPC Lattice, ...) and its OpenAPI
# models: about 65 ms of an import. The functions declare routes with tasks_core.params and
# tasks_core.resolver instead; only the OpenAPI build (local/gateway/openapi.py) imports it.
FORBIDDEN_SUBMODULES = ("aws_lambda_powertools.event_handler", "botocore.")
# The deploy-time hook's whole job is calling CodeDeploy and Lambda: boto3 (in Lambda's runtime)
# and what boto3 itself imports, measured below, are what it needs; it must not need the layer.
AWS_SDK_USERS = {"PreTrafficCheckFunction"}
# A request per API function that goes all the way to the database (a 404 counts: it was looked up).
REQUESTS = {
    "CreateTaskFunction": "create_task.json",
    "ListTasksFunction": "list_tasks.json",
    "GetTaskFunction": "get_task.json",
    "UpdateTaskFunction": "update_task_patch.json",
    "DeleteTaskFunction": "delete_task.json",
    "HealthFunction": "health.json",
}
# The AWS credential modes, complete enough to import in; boto3 may come only when they connect.
AWS_MODES = {
    "secret": {
        "DB_AUTH_MODE": "secret",
        "DB_HOST": "db.example.internal",
        "DB_NAME": "tasks",
        "DB_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:tasks-db",
        "DB_SSLMODE": "verify-full",
        "AWS_REGION": "us-east-1",
    },
    "iam": {
        "DB_AUTH_MODE": "iam",
        "DB_HOST": "db.example.internal",
        "DB_NAME": "tasks",
        "DB_USER": "tasks_app",
        "DB_SSLMODE": "verify-full",
        "AWS_REGION": "us-east-1",
    },
}

# Reads {"path": [...], "module": ..., "handler": ..., "events": [...]}; prints the modules
# imported by the handler's import, then after each event, with each response's status.
_SCRIPT = """
import json, sys
spec = json.loads(sys.stdin.read())
before = set(sys.modules)
sys.path[:0] = spec["path"]
module = __import__(spec["module"])
report = {"import": sorted(set(sys.modules) - before), "statuses": []}

class Context:
    function_name = "imports"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:imports"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/imports"
    log_stream_name = "imports"

    def get_remaining_time_in_millis(self):
        return 10_000

for event in spec["events"]:
    report["statuses"].append(getattr(module, spec["handler"])(event, Context())["statusCode"])
report["request"] = sorted(set(sys.modules) - before)
sys.stdout.write("\\n" + json.dumps(report) + "\\n")
"""


def _imports(function: Function, events: list[dict[str, Any]], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Import the function in a fresh interpreter, serve `events`; the modules and statuses."""
    module = function.handler.rsplit(".", 1)[0]
    spec = {
        "path": [str(function.code_uri), *(str(path) for path in function.layers or [LAYER])],
        "module": module,
        "handler": function.handler_name,
        "events": events,
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env={**_environment(), **(env or {})},
        cwd=function.code_uri,  # not the project root, whose packages (local, bench) would be importable
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _environment() -> dict[str, str]:
    # The session's variables (the `functions` fixture sets the API functions' environment).
    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


@functools.cache
def _aws_sdk() -> frozenset[str]:
    """The third-party top-level modules that `import boto3` brings into a fresh interpreter."""
    script = (
        "import sys, json; seen = set(sys.modules); import boto3; print(json.dumps(sorted(set(sys.modules) - seen)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True, env=_environment()
    )
    return frozenset(_third_party(json.loads(done.stdout)))


def _third_party(modules: list[str]) -> set[str]:
    """The top-level names among `modules` that are not Python's own."""
    names = {name.split(".", 1)[0] for name in modules} - set(sys.stdlib_module_names) - set(sys.builtin_module_names)
    # sysconfig's data for this platform: the standard library's, under a platform-specific name;
    # and the Cython runtime psycopg_binary's compiled modules register, named after its version.
    return {name for name in names if not name.startswith(("_sysconfigdata_", "_cython_"))}


def _check(function: Function, modules: list[str]) -> None:
    """Fail unless `modules` are what `function` needs: its own, the layer's, boto3's for the hook."""
    allowed_sdk = _aws_sdk() if function.logical_id in AWS_SDK_USERS else frozenset()
    forbidden = sorted(name for name in _third_party(modules) if name in FORBIDDEN and name not in allowed_sdk)
    assert not forbidden, f"{function.logical_id} imports {forbidden}, which no request of it needs"
    for prefix in FORBIDDEN_SUBMODULES:
        if prefix.split(".", 1)[0] in allowed_sdk:
            continue
        submodules = sorted(name for name in modules if name.startswith(prefix))
        assert not submodules, f"{function.logical_id} imports {submodules}, which no request of it needs"
    unexpected = sorted(_third_party(modules) - set(ALLOWED) - set(allowed_sdk))
    assert not unexpected, (
        f"{function.logical_id} imports {unexpected}: if a request really needs it, add it to ALLOWED "
        "with the reason (and measure its cold start: make bench)"
    )


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((PROJECT_ROOT / "events" / name).read_text())
    return event


def _template_functions(functions: dict[str, Function]) -> list[Function]:
    """Every function whose code is in functions/ (all of template.yaml's)."""
    return [fn for fn in functions.values() if Path(fn.code_uri).parent.name == "functions"]


def test_every_function_of_the_template_is_checked(functions: dict[str, Function]) -> None:
    names = {fn.logical_id for fn in _template_functions(functions)}
    api = {fn.logical_id for fn in functions.values() if fn.routes}
    assert api == set(REQUESTS)
    assert api < names  # and the functions without routes: migrations, purge, pre-traffic hook


@pytest.mark.parametrize("logical_id", sorted(REQUESTS))
def test_an_api_function_imports_only_what_a_request_needs(functions: dict[str, Function], logical_id: str) -> None:
    function = functions[logical_id]
    report = _imports(function, [_event(REQUESTS[logical_id])])

    assert all(status < 500 for status in report["statuses"]), report["statuses"]
    assert "tasks_core.repository" in report["import"]
    assert "psycopg" in report["request"]
    _check(function, report["import"])
    _check(function, report["request"])


def test_the_functions_without_routes_import_only_what_they_need(functions: dict[str, Function]) -> None:
    checked = [fn for fn in _template_functions(functions) if not fn.routes]
    assert checked
    for function in checked:
        report = _imports(function, [])
        assert report["import"], f"{function.logical_id} imported nothing"
        _check(function, report["import"])
        if function.logical_id in AWS_SDK_USERS:  # it checks the layer's new version: not through it
            assert "tasks_core" not in report["import"], f"{function.logical_id} imports the layer"


@pytest.mark.parametrize("mode", sorted(AWS_MODES))
def test_the_aws_credential_modes_import_boto3_only_when_they_connect(
    functions: dict[str, Function], mode: str
) -> None:
    function = functions["GetTaskFunction"]
    report = _imports(function, [], env={"DATABASE_URL": "", **AWS_MODES[mode]})

    _check(function, report["import"])
    assert "boto3" not in report["import"]


def test_the_check_sees_a_forbidden_import(functions: dict[str, Function]) -> None:
    function = functions["GetTaskFunction"]
    with pytest.raises(AssertionError, match="sqlalchemy"):
        _check(function, ["tasks_core", "sqlalchemy", "sqlalchemy.orm"])
    with pytest.raises(AssertionError, match=r"botocore\.session"):
        _check(function, ["botocore", "botocore.session"])
    with pytest.raises(AssertionError, match="orjson"):
        _check(function, ["orjson"])
