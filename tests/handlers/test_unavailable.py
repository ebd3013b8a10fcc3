"""A database that cannot be reached is a 503 with Retry-After, quickly: not a hang, not a 500."""

from __future__ import annotations

import json

import pytest

from tests.support.fresh_process import invoke_in_fresh_process, load_event

CALLS = [
    ("HealthFunction", "health.json"),
    ("CreateTaskFunction", "create_task.json"),
    ("ListTasksFunction", "list_tasks.json"),
    ("GetTaskFunction", "get_task.json"),
    ("UpdateTaskFunction", "update_task_patch.json"),
    ("DeleteTaskFunction", "delete_task.json"),
]


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
def test_unreachable_database_is_503_from_every_function(database_url: str) -> None:
    outcomes = invoke_in_fresh_process(
        [(logical_id, load_event(name)) for logical_id, name in CALLS], {"DATABASE_URL": database_url}
    )
    for (logical_id, _), outcome in zip(CALLS, outcomes, strict=True):
        response = outcome["response"]
        assert response["statusCode"] == 503, logical_id
        assert response["headers"]["Retry-After"] == "5"
        body = json.loads(response["body"])
        assert body["code"] == "database_unavailable"
        assert body["request_id"]
        for leak in ("Traceback", "psycopg", "connection", "127.0.0.1", "secret", "nonexistent"):
            assert leak not in response["body"]
        # Bounded by the connect timeout (3 s), under the function timeout (10 s); slack for load.
        assert outcome["seconds"] < 8, (logical_id, outcome["seconds"])
