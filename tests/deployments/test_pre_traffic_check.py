"""The pre-traffic hook (functions/pre_traffic_check/app.py) against the local runtime.

The API functions run in the local runtime's workers (local.emulator.pool) on the session's PostgreSQL,
invoked by the hook's own code through boto3 and a local stand-in for Lambda's Invoke API; the
CodeDeploy status it reports goes to the same stand-in, which records the request. Test doubles
(tests/deployments/fixtures/broken) stand in for a new version with a bug.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.pre_traffic_check import app as hook
from local.emulator.pool import Status
from local.gateway.payload import Router, build_event
from local.template import Function, all_routes
from tests.support.api import InProcessApi
from tests.support.lambda_standin import AwsStandIn, LocalLambda, aws_standin, endpoints, version_arn

BROKEN = Path(__file__).resolve().parent / "fixtures" / "broken"
SLOTS = {
    "create_task": "CreateTaskFunction",
    "list_tasks": "ListTasksFunction",
    "get_task": "GetTaskFunction",
    "update_task": "UpdateTaskFunction",
    "delete_task": "DeleteTaskFunction",
    "health": "HealthFunction",
}
DOUBLES = ("created_with_status_200", "reads_the_wrong_task", "deletes_nothing", "database_unreachable", "crashes")
HOOK_EVENT = {"DeploymentId": "d-TESTCANARY", "LifecycleEventHookExecutionId": "eyJleGVjdXRpb24iOiAiMSJ9"}


@pytest.fixture(scope="module")
def worker_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the workers write (the hook's log lines among them)."""
    return tmp_path_factory.mktemp("workers") / "workers.log"


@pytest.fixture(scope="module")
def local_lambda(functions: dict[str, Function], worker_log: Path) -> Iterator[LocalLambda]:
    """The API functions as the template has them, the doubles, and API functions with auth on."""
    registered = {name: functions[name] for name in SLOTS.values()}
    for double in DOUBLES:
        registered[double] = dataclasses.replace(
            functions["HealthFunction"], logical_id=double, code_uri=BROKEN, handler=f"app.{double}", layers=[]
        )
    for name in SLOTS.values():
        # The JWT authorizer on, its user claim `username` (AUTH_USER_ID_CLAIM).
        environment = {**functions[name].environment, "AUTH_ENABLED": "true", "AUTH_USER_ID_CLAIM": "username"}
        registered[f"Auth{name}"] = dataclasses.replace(
            functions[name], logical_id=f"Auth{name}", environment=environment
        )
    with worker_log.open("ab") as log:
        local = LocalLambda(registered, output=log.fileno())
        try:
            yield local
        finally:
            local.close()


@pytest.fixture(scope="module")
def module_standin(local_lambda: LocalLambda) -> Iterator[AwsStandIn]:
    with aws_standin(local_lambda) as state:
        yield state


@pytest.fixture
def standin(module_standin: AwsStandIn) -> AwsStandIn:
    """The stand-in, with nothing recorded yet."""
    module_standin.invocations.clear()
    module_standin.hook_statuses.clear()
    module_standin.codedeploy_error = None
    return module_standin


@pytest.fixture
def invoke(standin: AwsStandIn) -> hook.Invoke:
    """The hook's own invoker, its boto3 client sent to the stand-in."""
    client = boto3.client(
        "lambda",
        endpoint_url=standin.url,
        region_name="us-east-1",
        aws_access_key_id="standin",
        aws_secret_access_key="standin",
        config=hook.CLIENT_CONFIG,
    )
    return hook.lambda_invoker(client, lambda: 300_000)


def new_versions(prefix: str = "", **doubles: str) -> hook.NewVersions:
    """Version ARNs of the API functions, a double in place of some."""
    arns = {slot: version_arn(doubles.get(slot, f"{prefix}{function}")) for slot, function in SLOTS.items()}
    return hook.NewVersions(**arns)


def environment(versions: hook.NewVersions) -> dict[str, str]:
    """The variables the template gives the hook for these versions."""
    return {f"{slot.upper()}_VERSION": getattr(versions, slot) for slot in SLOTS}


def tasks_of(api: InProcessApi, user_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/users/{user_id}/tasks")
    assert response.status == 200
    listed: list[dict[str, Any]] = response.json()
    return listed


# --- the checks


def test_the_new_versions_pass_every_step_and_leave_no_task(
    invoke: hook.Invoke, standin: AwsStandIn, api: InProcessApi, user_id: str
) -> None:
    checks = hook.Checks(invoke, new_versions(), user_id=user_id)
    checks.run()
    assert checks.passed == ["health", "create", "list", "get", "update", "delete", "get after delete"]
    # Each step invoked the new version (the qualified ARN), never $LATEST or the alias.
    assert standin.invocations == [
        ("HealthFunction", "7"),
        ("CreateTaskFunction", "7"),
        ("ListTasksFunction", "7"),
        ("GetTaskFunction", "7"),
        ("UpdateTaskFunction", "7"),
        ("DeleteTaskFunction", "7"),
        ("GetTaskFunction", "7"),
    ]
    assert tasks_of(api, user_id) == []


@dataclasses.dataclass(frozen=True)
class Bug:
    """A double in place of one function's new version, and how the check must fail."""

    slot: str
    double: str
    reason: str  # a regular expression the failure's message matches
    passed: tuple[str, ...]  # the steps before it
    left_behind: int = 0  # tasks of the check's user afterwards


STEPS = ("health", "create", "list", "get", "update", "delete")
BUGS = [
    Bug("health", "database_unreachable", r"^health: expected status 200, got 503", ()),
    Bug("create_task", "created_with_status_200", r"^create: expected status 201, got 200", STEPS[:1]),
    Bug(
        "get_task", "reads_the_wrong_task", r"^get: expected \{.*\"user_id\": \"user-.*got \{.*someone-else", STEPS[:3]
    ),
    Bug("update_task", "crashes", r"^update: .*:crashes:7 failed \(Unhandled\).*RuntimeError", STEPS[:4]),
    # The clean-up deletes with the same (broken) version: the check's task stays.
    Bug("delete_task", "deletes_nothing", r"^get after delete: expected status 404, got 200", STEPS, left_behind=1),
]


@pytest.mark.parametrize("bug", BUGS, ids=[bug.double for bug in BUGS])
def test_a_version_that_answers_wrongly_fails_the_check(
    invoke: hook.Invoke, api: InProcessApi, user_id: str, bug: Bug
) -> None:
    checks = hook.Checks(invoke, new_versions(**{bug.slot: bug.double}), user_id=user_id)
    with pytest.raises(hook.CheckFailed) as failure:
        checks.run()
    assert re.search(bug.reason, str(failure.value)), str(failure.value)
    assert tuple(checks.passed) == bug.passed
    assert len(tasks_of(api, user_id)) == bug.left_behind


def test_with_the_jwt_authorizer_on_the_events_carry_the_users_claim(invoke: hook.Invoke, user_id: str) -> None:
    # What API Gateway passes after verifying a token: the functions compare the claim to the path.
    checks = hook.Checks(invoke, new_versions(prefix="Auth"), user_id_claim="username", user_id=user_id)
    checks.run()
    assert checks.passed[-1] == "get after delete"
    wrong_claim = hook.Checks(invoke, new_versions(prefix="Auth"), user_id_claim="sub", user_id=user_id)
    with pytest.raises(hook.CheckFailed, match=r"^create: expected status 201, got 403"):
        wrong_claim.run()


def test_check_says_succeeded_or_failed(invoke: hook.Invoke) -> None:
    assert hook.check(invoke, environment(new_versions())) == hook.SUCCEEDED
    assert hook.check(invoke, environment(new_versions(create_task="crashes"))) == hook.FAILED


def test_a_version_lambda_cannot_find_fails(invoke: hook.Invoke, standin: AwsStandIn) -> None:
    versions = dataclasses.replace(new_versions(), health=version_arn("NoSuchFunction"))
    with pytest.raises(hook.CheckFailed, match=r"^health: could not invoke .*NoSuchFunction:7.*ResourceNotFound"):
        hook.Checks(invoke, versions).run()
    assert hook.check(invoke, environment(versions)) == hook.FAILED
    assert standin.invocations[-1] == ("NoSuchFunction", "7")


def test_a_template_without_a_version_variable_fails() -> None:
    variables = environment(new_versions())
    del variables["HEALTH_VERSION"]
    with pytest.raises(hook.CheckFailed, match="no new version in HEALTH_VERSION"):
        hook.NewVersions.from_environment(variables)
    assert hook.check(lambda version, event: None, variables) == hook.FAILED


def test_an_unexpected_error_fails_rather_than_leaving_codedeploy_waiting() -> None:
    def broken(version: str, event: dict[str, Any]) -> Any:
        raise KeyError("a bug in the hook itself")

    assert hook.check(broken, environment(new_versions())) == hook.FAILED


def test_no_invocation_starts_without_the_time_it_may_need(standin: AwsStandIn) -> None:
    client = boto3.client(
        "lambda", endpoint_url=standin.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    invoke = hook.lambda_invoker(client, lambda: hook.INVOKE_ALLOWANCE_MS - 1)
    with pytest.raises(hook.CheckFailed, match="too little time left"):
        invoke(version_arn("HealthFunction"), {})
    assert standin.invocations == []


def test_the_hooks_events_are_those_api_gateway_sends(functions: dict[str, Function]) -> None:
    route = "/users/{user_id}/tasks/{task_id}"
    ours = hook.request_event(
        "PATCH",
        route,
        {"user_id": "user-1", "task_id": "5"},
        body={"completed": True},
        headers={"if-match": '"abc"'},
        claims={"sub": "user-1"},
    )
    match = Router(all_routes(functions)).match("PATCH", "/users/user-1/tasks/5")
    assert match is not None
    theirs = build_event(
        method="PATCH",
        raw_path="/users/user-1/tasks/5",
        headers=[
            ("user-agent", "codedeploy-pre-traffic-check"),
            ("if-match", '"abc"'),
            ("content-type", "application/json"),
        ],
        body=b'{"completed": true}',
        match=match,
        authorizer={"jwt": {"claims": {"sub": "user-1"}, "scopes": None}},
    )
    for key in (
        "version",
        "routeKey",
        "rawPath",
        "rawQueryString",
        "headers",
        "pathParameters",
        "body",
        "isBase64Encoded",
    ):
        assert ours[key] == theirs[key], key
    assert ours["requestContext"].keys() == theirs["requestContext"].keys()
    assert ours["requestContext"]["http"].keys() == theirs["requestContext"]["http"].keys()
    assert ours["requestContext"]["authorizer"] == theirs["requestContext"]["authorizer"]
    assert ours.keys() == theirs.keys()


# --- the hook as CodeDeploy runs it: the handler in a worker, its report to the stand-in


def run_hook(
    local: LocalLambda, functions: dict[str, Function], standin: AwsStandIn, name: str, versions: hook.NewVersions
) -> Any:
    """Invoke the hook function of the template, in a worker, with these versions to check."""
    template_hook = functions["PreTrafficCheckFunction"]
    variables = {**template_hook.environment, **environment(versions), **endpoints(standin.url)}
    local.functions[name] = dataclasses.replace(template_hook, logical_id=name, environment=variables)
    return local.invoke(name, HOOK_EVENT)


def test_the_hook_reports_succeeded_for_good_versions(
    local_lambda: LocalLambda, functions: dict[str, Function], standin: AwsStandIn
) -> None:
    outcome = run_hook(local_lambda, functions, standin, "HookGood", new_versions())
    assert outcome.status is Status.OK, outcome.error
    assert outcome.result == {"deploymentId": "d-TESTCANARY", "status": "Succeeded"}
    assert standin.hook_statuses == [
        {
            "deploymentId": "d-TESTCANARY",
            "lifecycleEventHookExecutionId": "eyJleGVjdXRpb24iOiAiMSJ9",
            "status": "Succeeded",
        }
    ]
    assert len(standin.invocations) == 7


def test_the_hook_reports_failed_for_a_broken_version(
    local_lambda: LocalLambda, functions: dict[str, Function], standin: AwsStandIn, worker_log: Path
) -> None:
    outcome = run_hook(
        local_lambda, functions, standin, "HookBroken", new_versions(create_task="created_with_status_200")
    )
    assert outcome.status is Status.OK, outcome.error
    assert standin.hook_statuses == [
        {
            "deploymentId": "d-TESTCANARY",
            "lifecycleEventHookExecutionId": "eyJleGVjdXRpb24iOiAiMSJ9",
            "status": "Failed",
        }
    ]
    assert "pre-traffic check failed: create: expected status 201, got 200" in worker_log.read_text()


def test_a_refused_report_fails_the_invocation_so_lambda_retries_it(
    local_lambda: LocalLambda, functions: dict[str, Function], standin: AwsStandIn
) -> None:
    standin.codedeploy_error = "LifecycleEventAlreadyCompletedException"
    outcome = run_hook(local_lambda, functions, standin, "HookRefused", new_versions())
    assert outcome.status is Status.ERROR
    assert outcome.error is not None
    assert outcome.error["errorType"] == "LifecycleEventAlreadyCompletedException"
    assert [status["status"] for status in standin.hook_statuses] == ["Succeeded"]
