"""The migrations custom resource answers CloudFormation once, SUCCESS or FAILED with a reason,
through a local HTTP server standing in for the pre-signed response URL."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from local.devdb.database import scratch_database
from tasks_core.migrate import available_migrations
from tests.support.fresh_process import invoke_in_fresh_process
from tests.support.http_stub import HttpStub, QuietHandler


class ResponseUrl:
    """Records the PUTs CloudFormation's pre-signed S3 URL would receive."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []
        self.content_types: list[str | None] = []
        recorder = self

        class Handler(QuietHandler):
            def do_PUT(self) -> None:  # noqa: N802  # http.server calls it by this name
                length = int(self.headers["Content-Length"])
                recorder.answers.append(json.loads(self.rfile.read(length)))
                recorder.content_types.append(self.headers.get("Content-Type"))
                self.send_response(200)
                self.end_headers()

        self.stub = HttpStub(Handler)
        self.url = f"{self.stub.base_url}/response?X-Amz-Signature=abc"

    def close(self) -> None:
        self.stub.close()


@pytest.fixture
def response_url() -> Iterator[ResponseUrl]:
    recorder = ResponseUrl()
    yield recorder
    recorder.close()


@pytest.fixture
def empty_database(server_url: str, pooled: Callable[[str], str]) -> Iterator[str]:
    with scratch_database(server_url, prefix="tasks_cfn") as url:
        yield pooled(url)


def request(kind: str, url: str, physical_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/tasks-api-dev/guid",
        "RequestId": f"request-{kind.lower()}",
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "arn", "LayerVersion": "arn:aws:lambda:...:layer:tasks-core-dev:7"},
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


def run(events: list[dict[str, Any]], database_url: str) -> None:
    invoke_in_fresh_process([("MigrateFunction", event) for event in events], {"DATABASE_URL": database_url})


def test_create_update_delete(response_url: ResponseUrl, empty_database: str) -> None:
    run(
        [
            request("Create", response_url.url),
            request("Update", response_url.url, "tasks-api-database-migrations"),
            request("Delete", response_url.url, "tasks-api-database-migrations"),
        ],
        empty_database,
    )
    create, update, delete = response_url.answers
    everything = [migration.version for migration in available_migrations()]
    assert create["Status"] == "SUCCESS"
    assert create["Data"]["Applied"] == ",".join(everything)
    assert create["PhysicalResourceId"] == "tasks-api-database-migrations"
    assert create["RequestId"] == "request-create"
    assert create["LogicalResourceId"] == "DatabaseMigrations"
    assert create["StackId"].endswith("stack/tasks-api-dev/guid")
    assert update["Status"] == "SUCCESS"
    assert update["Data"]["Applied"] == "none"
    assert delete["Status"] == "SUCCESS"
    assert response_url.content_types == ["", "", ""]  # what the pre-signed URL was signed for
    with psycopg.connect(empty_database) as conn:  # Delete left the data alone
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(everything),)


def test_failing_migration_reports_failed_with_its_reason(response_url: ResponseUrl, empty_database: str) -> None:
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE tasks (id int)")  # 0001_initial cannot create it
    run([request("Create", response_url.url)], empty_database)
    [answer] = response_url.answers
    assert answer["Status"] == "FAILED"
    assert "DuplicateTable" in answer["Reason"]
    assert "tasks" in answer["Reason"]


def test_unreachable_database_reports_failed(response_url: ResponseUrl) -> None:
    run([request("Create", response_url.url)], "postgresql://postgres@/postgres?host=/nonexistent-socket-dir")
    [answer] = response_url.answers
    assert answer["Status"] == "FAILED"
    assert answer["Reason"]


def test_a_function_about_to_time_out_still_answers(response_url: ResponseUrl) -> None:
    # An action that outlasts the function's time: the guard answers FAILED before the timeout.
    from local.emulator.context import LambdaContext
    from tasks_core.custom_resource import run_custom_resource

    def stuck(event: dict[str, Any]) -> dict[str, Any]:
        threading.Event().wait(2)
        return {}

    context = LambdaContext("migrate", 128, timeout_s=10.5)  # 0.5 s left after the 10 s margin
    run_custom_resource(request("Create", response_url.url), context, stuck, physical_id="p")
    [answer] = response_url.answers
    assert answer["Status"] == "FAILED"
    assert "timed out" in answer["Reason"]


def test_the_function_creates_the_role_it_is_configured_with(response_url: ResponseUrl, empty_database: str) -> None:
    role = f"tasks_cfn_{secrets.token_hex(3)}"  # DB_APP_ROLE: the template's DatabaseUser
    environment = {"DATABASE_URL": empty_database, "DB_APP_ROLE": role}
    invoke_in_fresh_process([("MigrateFunction", request("Create", response_url.url))], environment)
    [answer] = response_url.answers
    assert answer["Status"] == "SUCCESS"
    with psycopg.connect(empty_database, autocommit=True) as conn:
        try:
            grants = conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants"
                " WHERE grantee = %s AND table_name = 'tasks' ORDER BY privilege_type",
                (role,),
            ).fetchall()
            assert grants == [("DELETE",), ("INSERT",), ("SELECT",), ("UPDATE",)]
        finally:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
