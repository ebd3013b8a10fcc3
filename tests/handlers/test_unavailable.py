"""A database that cannot be reached is a 503 with Retry-After, quickly: not a hang, not a 500."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.template import PROJECT_ROOT

# Runs one event through one function in a fresh process, as a cold start does.
INVOKE = """
import json, sys
from local.context import LambdaContext
from local.handlers import load_handler
from local.template import load_functions
function = load_functions()[sys.argv[1]]
event = json.load(open(sys.argv[2]))
print(json.dumps(load_handler(function)(event, LambdaContext(function.logical_id, 128, 10))))
"""


@pytest.mark.parametrize(
    ("logical_id", "event_file"),
    [
        ("HealthFunction", "health.json"),
        ("CreateTaskFunction", "create_task.json"),
        ("ListTasksFunction", "list_tasks.json"),
        ("GetTaskFunction", "get_task.json"),
        ("UpdateTaskFunction", "update_task_patch.json"),
        ("DeleteTaskFunction", "delete_task.json"),
    ],
)
@pytest.mark.parametrize(
    "database_url",
    [
        # No server listens on this socket folder: connect fails at once.
        "postgresql://postgres@/postgres?host=/nonexistent-socket-dir",
        # Nothing answers on this port of the loopback.
        "postgresql://postgres:secret@127.0.0.1:9/postgres",
    ],
    ids=["no-socket", "refused"],
)
def test_unreachable_database_is_503(tmp_path: Path, logical_id: str, event_file: str, database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "POWERTOOLS_SERVICE_NAME": "tasks-api"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", INVOKE, logical_id, str(PROJECT_ROOT / "events" / event_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=True,
    )
    elapsed = time.monotonic() - started
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "5"
    body = json.loads(response["body"])
    assert body["code"] == "database_unavailable"
    assert body["request_id"]
    for leak in ("Traceback", "psycopg", "connection", "127.0.0.1", "secret", "nonexistent"):
        assert leak not in response["body"]
    assert elapsed < 10  # the connect timeout (3 s) bounds it, well under the function timeout
