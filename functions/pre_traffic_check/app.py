"""CodeDeploy's PreTraffic hook: the new version of every API function answers as docs/API.md says
before any traffic reaches it (docs/deployments.md).

CodeDeploy invokes this function asynchronously, once per deployment group (one per API function),
with `DeploymentId` and `LifecycleEventHookExecutionId`, and waits up to an hour for
PutLifecycleEventHookExecutionStatus: `Succeeded` lets it shift traffic, `Failed` stops the
deployment and rolls it back. The event does not say which version to test; as SAM's guide to safe
deployments advises, the template passes each new version's ARN in an environment variable
(`!Ref <Function>.Version`). Every run checks all six: one request flow needs several functions (a
task is created before it can be read), and a run costs a few invocations.

Standard library and boto3 only, both in Lambda's Python runtime: the hook does not depend on the
layer whose new version it checks.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

# Invokes one function version (its ARN) with an event; returns the handler's result.
Invoke = Callable[[str, dict[str, Any]], Any]

# Each invocation: connect within 5 s, an answer within 30 s (a cold start of up to 10 s plus the
# functions' 10 s timeout), up to 3 attempts (throttling while live traffic uses the function's
# reserved concurrency is the likely reason to retry). So one invocation takes at most ~105 s.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
INVOKE_ALLOWANCE_MS = 110_000

SUCCEEDED = "Succeeded"
FAILED = "Failed"


class CheckFailed(Exception):
    """A new version answered against the contract, or could not be invoked."""


@dataclass(frozen=True)
class NewVersions:
    """The ARN of each API function's new version (qualified: `...:function:<name>:<version>`)."""

    create_task: str
    list_tasks: str
    get_task: str
    update_task: str
    delete_task: str
    health: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> NewVersions:
        """The versions the template passes as CREATE_TASK_VERSION, ..., HEALTH_VERSION."""
        names = {name: f"{name.upper()}_VERSION" for name in cls.__dataclass_fields__}
        missing = sorted(variable for variable in names.values() if not environ.get(variable))
        if missing:
            raise CheckFailed(f"the template gives no new version in {', '.join(missing)}")
        return cls(**{name: environ[variable] for name, variable in names.items()})


@dataclass(frozen=True)
class Answer:
    """A function's payload 2.0 response, as API Gateway would send it."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: Any  # the JSON body parsed; None when empty

    @classmethod
    def from_result(cls, result: Any, what: str) -> Answer:
        """The handler's result read as API Gateway reads it (a dict with statusCode)."""
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            raise CheckFailed(f"{what}: not a payload 2.0 response: {_short(result)}")
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8", errors="replace")
        try:
            body = json.loads(text) if text else None
        except ValueError:
            raise CheckFailed(f"{what}: the body is not JSON: {_short(text)}") from None
        headers = {str(name).lower(): str(value) for name, value in (result.get("headers") or {}).items()}
        return cls(result["statusCode"], headers, body)


@dataclass
class Checks:
    """The contract's main flow, run against the new versions under a user of its own."""

    invoke: Invoke
    versions: NewVersions
    # The claim that carries the user when the JWT authorizer is on (AUTH_USER_ID_CLAIM).
    user_id_claim: str = "sub"
    user_id: str = field(default_factory=lambda: f"codedeploy-pre-traffic-{uuid.uuid4().hex}")
    passed: list[str] = field(default_factory=list)

    def run(self) -> None:
        """Every step in order; CheckFailed at the first answer that breaks the contract."""
        health = self.call("health", self.versions.health, "GET", "/health")
        self.expect("health", health, 200, {"status": "ok", "database": "ok"})
        self.passed.append("health")
        tasks = f"/users/{self.user_id}/tasks"
        created = self.call(
            "create",
            self.versions.create_task,
            "POST",
            "/users/{user_id}/tasks",
            body={"title": "Pre-traffic check", "description": "Created and deleted by CodeDeploy's hook"},
            headers={"idempotency-key": f"pre-traffic-{uuid.uuid4().hex}"},
        )
        self.expect_status("create", created, 201)
        task = created.body
        task_id = task.get("id") if isinstance(task, dict) else None
        if not isinstance(task_id, int) or isinstance(task_id, bool) or task_id < 1:
            raise CheckFailed(f"create: no positive integer id in {_short(task)}")
        try:
            self._check_created(created, task_id, tasks)
            self._read_update_delete(task, task_id, created.headers["etag"])
        except CheckFailed:
            self._delete_quietly(task_id)
            raise

    def _check_created(self, created: Answer, task_id: int, tasks: str) -> None:
        task = created.body
        if not isinstance(task.get("created_at"), str):
            raise CheckFailed(f"create: no created_at in {_short(task)}")
        expected = {
            "id": task_id,
            "title": "Pre-traffic check",
            "description": "Created and deleted by CodeDeploy's hook",
            "completed": False,
            "user_id": self.user_id,
            "created_at": task.get("created_at"),
            "updated_at": task.get("created_at"),
        }
        self.expect("create", created, 201, expected)
        if created.headers.get("location") != f"{tasks}/{task_id}":
            raise CheckFailed(f"create: Location {created.headers.get('location')!r}, expected {tasks}/{task_id}")
        if not created.headers.get("etag"):
            raise CheckFailed("create: no ETag")
        self.passed.append("create")

    def _read_update_delete(self, task: dict[str, Any], task_id: int, etag: str) -> None:
        params = {"task_id": str(task_id)}
        listed = self.call("list", self.versions.list_tasks, "GET", "/users/{user_id}/tasks")
        self.expect("list", listed, 200, [task])
        self.passed.append("list")
        fetched = self.call("get", self.versions.get_task, "GET", "/users/{user_id}/tasks/{task_id}", params)
        self.expect("get", fetched, 200, task)
        if fetched.headers.get("etag") != etag:
            raise CheckFailed(f"get: ETag {fetched.headers.get('etag')!r}, created with {etag!r}")
        self.passed.append("get")
        updated = self.call(
            "update",
            self.versions.update_task,
            "PATCH",
            "/users/{user_id}/tasks/{task_id}",
            params,
            body={"completed": True},
            headers={"if-match": etag},
        )
        moved = updated.body.get("updated_at") if isinstance(updated.body, dict) else None
        self.expect("update", updated, 200, {**task, "completed": True, "updated_at": moved})
        # RFC 3339 in UTC with microseconds: later times sort later as text.
        if not isinstance(moved, str) or not moved > task["updated_at"]:
            raise CheckFailed(f"update: updated_at {moved!r} did not move on from {task['updated_at']!r}")
        new_etag = updated.headers.get("etag")
        if not new_etag or new_etag == etag:
            raise CheckFailed(f"update: the ETag {new_etag!r} did not change")
        self.passed.append("update")
        deleted = self.call(
            "delete",
            self.versions.delete_task,
            "DELETE",
            "/users/{user_id}/tasks/{task_id}",
            params,
            headers={"if-match": new_etag},
        )
        self.expect("delete", deleted, 200, {"message": "Task deleted successfully"})
        self.passed.append("delete")
        gone = self.call("get after delete", self.versions.get_task, "GET", "/users/{user_id}/tasks/{task_id}", params)
        self.expect_status("get after delete", gone, 404)
        if not isinstance(gone.body, dict) or gone.body.get("code") != "not_found":
            raise CheckFailed(f"get after delete: expected code not_found, got {_short(gone.body)}")
        self.passed.append("get after delete")

    def call(
        self,
        step: str,
        version: str,
        method: str,
        route: str,
        path_parameters: Mapping[str, str] | None = None,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Invoke a version with the event API Gateway would send for this request."""
        parameters = {"user_id": self.user_id, **(path_parameters or {})} if "{user_id}" in route else {}
        claims = {self.user_id_claim: self.user_id}
        event = request_event(method, route, parameters, body=body, headers=headers, claims=claims)
        try:
            result = self.invoke(version, event)
        except CheckFailed as error:
            raise CheckFailed(f"{step}: {error}") from error
        return Answer.from_result(result, f"{step} ({version})")

    def expect_status(self, step: str, answer: Answer, status: int) -> None:
        """CheckFailed unless the answer has this status."""
        if answer.status != status:
            raise CheckFailed(f"{step}: expected status {status}, got {answer.status}: {_short(answer.body)}")

    def expect(self, step: str, answer: Answer, status: int, body: Any) -> None:
        """CheckFailed unless the answer has this status and this JSON body."""
        self.expect_status(step, answer, status)
        if answer.body != body:
            raise CheckFailed(f"{step}: expected {_short(body)}, got {_short(answer.body)}")

    def _delete_quietly(self, task_id: int) -> None:
        # Leave no task behind when a later step failed; the delete version may be the broken one.
        try:
            self.call(
                "clean-up",
                self.versions.delete_task,
                "DELETE",
                "/users/{user_id}/tasks/{task_id}",
                {"task_id": str(task_id)},
            )
        except CheckFailed as error:
            logger.warning("could not delete the check's task %s of %s: %s", task_id, self.user_id, error)


def request_event(
    method: str,
    route: str,
    path_parameters: Mapping[str, str],
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway sends for a request on this route (`/users/{user_id}/tasks`).

    Path parameters are URL-safe here, so the raw path is the route with them in place. The JWT
    claims are what API Gateway's authorizer would pass for the user; functions read them only when
    authorization is on.
    """
    raw_path = route.format(**path_parameters)
    all_headers = {"user-agent": "codedeploy-pre-traffic-check", **(headers or {})}
    text = None if body is None else json.dumps(body)
    if text is not None:
        all_headers["content-type"] = "application/json"
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "pre-traffic-check",
            "domainName": "pre-traffic-check",
            "domainPrefix": "pre-traffic-check",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": all_headers["user-agent"],
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if claims:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    if text is not None:
        event["body"] = text
    return event


def lambda_invoker(client: Any, remaining_ms: Callable[[], int]) -> Invoke:
    """Invoke through Lambda's API, synchronously; CheckFailed for a function error or an API error."""

    def invoke(version: str, event: dict[str, Any]) -> Any:
        if remaining_ms() < INVOKE_ALLOWANCE_MS:
            raise CheckFailed(f"too little time left to invoke {version}")
        try:
            response = client.invoke(FunctionName=version, Payload=json.dumps(event).encode())
            payload = json.loads(response["Payload"].read() or b"null")
        except (BotoCoreError, ClientError) as error:
            raise CheckFailed(f"could not invoke {version}: {error}") from error
        except ValueError as error:
            raise CheckFailed(f"{version} returned a payload that is not JSON: {error}") from error
        if response.get("FunctionError"):
            raise CheckFailed(f"{version} failed ({response['FunctionError']}): {_short(payload)}")
        return payload

    return invoke


def check(invoke: Invoke, environ: Mapping[str, str]) -> str:
    """Run the checks; Succeeded, or Failed with the reason logged."""
    started = time.monotonic()
    passed: list[str] = []
    failure = None
    try:
        versions = NewVersions.from_environment(environ)
        checks = Checks(invoke, versions, user_id_claim=environ.get("AUTH_USER_ID_CLAIM") or "sub", passed=passed)
        checks.run()
    except CheckFailed as error:
        failure = error
    # Whatever else goes wrong must fail the deployment too, not leave CodeDeploy waiting an hour.
    except Exception:
        logger.exception("pre-traffic check stopped on an unexpected error (passed: %s)", ", ".join(passed))
        return FAILED
    if failure is not None:
        logger.error("pre-traffic check failed: %s (passed: %s)", failure, ", ".join(passed))
        return FAILED
    logger.info("pre-traffic check passed in %.1f s: %s", time.monotonic() - started, ", ".join(passed))
    return SUCCEEDED


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    """Check the new versions, then report the outcome to CodeDeploy.

    A failed report raises, so that Lambda retries the asynchronous invocation (twice), and
    CodeDeploy fails the hook when it hears nothing within the hour.
    """
    deployment_id = str(event["DeploymentId"])
    execution_id = str(event["LifecycleEventHookExecutionId"])
    invoke = lambda_invoker(boto3.client("lambda", config=CLIENT_CONFIG), context.get_remaining_time_in_millis)
    status = check(invoke, os.environ)
    boto3.client("codedeploy", config=CLIENT_CONFIG).put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
    )
    logger.info("reported %s for deployment %s (hook execution %s)", status, deployment_id, execution_id)
    return {"deploymentId": deployment_id, "status": status}


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
