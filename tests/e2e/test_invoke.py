"""`python -m local invoke`: one invocation from an event file or stdin, like `sam local invoke`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from local.devdb.database import scratch_database
from local.template import PROJECT_ROOT
from tests.e2e.server import FIXTURES

TEMPLATE = str(FIXTURES / "template.yaml")


@pytest.fixture(scope="module")
def database(server_url: str) -> Iterator[str]:
    with scratch_database(server_url, prefix="tasks_invoke") as url:
        yield url


def invoke(database: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "invoke", "--template", TEMPLATE, *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_event_file(database: str) -> None:
    result = invoke(database, "EchoFunction", "-e", str(FIXTURES / "events" / "echo.json"))
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    seen = json.loads(response["body"])
    assert seen["event"]["rawPath"] == "/echo/from-a-file"
    request_id = seen["context"]["aws_request_id"]
    assert f"START RequestId: {request_id}" in result.stderr
    assert f"REPORT RequestId: {request_id}" in result.stderr
    assert "Init Duration" in result.stderr


def test_event_from_stdin(database: str) -> None:
    event = {"pathParameters": {"kind": "object"}}
    result = invoke(database, "ShapeFunction", "-e", "-", stdin=json.dumps(event))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"a": 1}


def test_handler_error_exits_non_zero_with_lambdas_error(database: str) -> None:
    result = invoke(database, "CrashFunction", "-e", "-", stdin='{"pathParameters": {"mode": "raise"}}')
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "boom"
    assert error["stackTrace"]
    assert "[ERROR] RuntimeError: boom" in result.stderr


def test_unknown_function_says_which_exist(database: str) -> None:
    result = invoke(database, "NoSuchFunction", "-e", "-", stdin="{}")
    assert result.returncode == 2
    assert "EchoFunction" in result.stderr
