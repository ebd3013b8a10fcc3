"""SnapStart's runtime hooks (tasks_core/snapstart.py), run as Lambda runs them, in fresh processes.

A fresh process imports the handlers and runs the before-snapshot hooks, as Lambda does before it
takes the snapshot; what it then holds is what a snapshot would capture. "Restores" are forks of
it whose `random` state is set back to the snapshot's (a fork reseeds `random`; a restore does
not), each running the after-restore hooks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from local.template import PROJECT_ROOT, Function
from tests.support.contract import API_FUNCTIONS
from tests.support.fresh_process import run_python
from tests.support.http_stub import HttpStub, QuietHandler

# Imports the API functions' handlers and runs the before-snapshot hooks; then, as the JSON on
# stdin asks, forks "restored" environments and reports what the process and each fork hold.
_SCRIPT = r"""
import json, os, random, sys, time
from local.emulator.context import LambdaContext
from local.emulator.loader import load_module
from local.emulator.snapshot_process import run_after_restore_hooks, run_before_snapshot_hooks
from local.template import load_functions
from snapshot_restore_py import get_after_restore, get_before_snapshot
from tasks_core import environment, snapstart

plan = json.load(sys.stdin)
functions = load_functions()


def sockets():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.append(target)
    return found


def backend_pid():
    # The client connection's own id (BackendKeyData): the server's pid when connected directly;
    # through PgBouncer, whose clients share server connections by design (pg_backend_pid() would
    # not tell two clients apart), a key PgBouncer draws for each client connection.
    from psycopg.rows import tuple_row
    database = environment.database()
    database.fetch("SELECT 1", {}, tuple_row, idempotent=True)
    return database.connection()[0].info.backend_pid


def invoke(name, event):
    module = sys.modules[f"lambda_function_{name}"]
    function = functions[name]
    return module.lambda_handler(event, LambdaContext(name, function.memory_mb, function.timeout_s))


sockets_before = sockets()
modules = {name: load_module(functions[name]) for name in plan["functions"]}
report = {"hooks": [len(get_before_snapshot()), len(get_after_restore())]}
if plan.get("careless_init"):
    report["init_backend_pid"] = backend_pid()
started = time.perf_counter()
if plan.get("before_snapshot", True):
    run_before_snapshot_hooks()
report["before_snapshot_s"] = time.perf_counter() - started
report["warm_up_statuses"] = {name: snapstart.warm_up(modules[name].app) for name in plan["functions"]}
report["new_sockets"] = [s for s in sockets() if s not in sockets_before]
report["holds_database"] = environment.holds_database()
report["boto3_imported"] = "boto3" in sys.modules
report["forks"] = []
snapshot_random = random.getstate()
for _ in range(plan.get("forks", 0)):
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        random.setstate(snapshot_random)  # memory as the snapshot had it
        seen = {}
        started = time.perf_counter()
        if plan.get("after_restore", True):
            run_after_restore_hooks()
        seen["after_restore_s"] = time.perf_counter() - started
        seen["holds_database"] = environment.holds_database()
        seen["random"] = random.getrandbits(64)
        if plan.get("query"):
            seen["backend_pid"] = backend_pid()
        if plan.get("event"):
            seen["status"] = invoke(plan["functions"][0], plan["event"])["statusCode"]
        os.write(writer, json.dumps(seen).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        report["forks"].append(json.loads(pipe.read()))
    os.waitpid(pid, 0)
sys.stdout.write("\n" + json.dumps(report) + "\n")
"""


def in_fresh_process(plan: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Run the script with `plan` in a new process with `env` over the API functions' environment."""
    output = run_python(_SCRIPT, env, stdin=json.dumps(plan), timeout_s=180)
    report: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def url_mode(functions: dict[str, Function]) -> dict[str, str]:
    """The API functions' environment (url mode, the session's database), as Lambda sets it."""
    return dict(functions["GetTaskFunction"].environment)


class AwsEndpoint:
    """A stand-in for every AWS API (AWS_ENDPOINT_URL): it counts requests and refuses them all."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802  # http.server calls it by this name
                outer.requests.append(self.headers.get("X-Amz-Target", self.path))
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = b'{"__type": "AccessDeniedException", "message": "not here"}'
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.stub = HttpStub(Handler)
        self.url = self.stub.base_url

    def close(self) -> None:
        """Stop serving."""
        self.stub.close()


@pytest.fixture
def aws_endpoint() -> Iterator[AwsEndpoint]:
    endpoint = AwsEndpoint()
    yield endpoint
    endpoint.close()


def aws_mode(mode: str, endpoint: AwsEndpoint) -> dict[str, str]:
    """The API functions' environment in an AWS auth mode, every AWS call going to `endpoint`."""
    return {
        "DB_AUTH_MODE": mode,
        "DATABASE_URL": "",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "9",  # nothing listens: a connect would fail, never hang
        "DB_NAME": "tasks",
        "DB_USER": "tasks_app",
        "DB_SECRET_ID": "tasks/db/app",
        "DB_SSLMODE": "require",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # a stand-in's
        "AWS_ENDPOINT_URL": endpoint.url,
    }


# --- before the snapshot


def test_the_warm_up_answers_every_route_up_to_the_refused_database(url_mode: dict[str, str]) -> None:
    report = in_fresh_process({"functions": API_FUNCTIONS}, url_mode)
    # A warm-up per function's resolver; one reset for the whole environment.
    assert report["hooks"] == [len(API_FUNCTIONS), 1]
    routes = {"UpdateTaskFunction": 2}  # PUT and PATCH
    for name in API_FUNCTIONS:
        # 503 database_unavailable: path, headers, body and its fields all passed, then the
        # database refused, so every check of a first request ran before the snapshot.
        assert report["warm_up_statuses"][name] == [503] * routes.get(name, 1)


def test_before_the_snapshot_no_socket_connection_or_credentials_exist(url_mode: dict[str, str]) -> None:
    report = in_fresh_process({"functions": API_FUNCTIONS}, url_mode)
    assert report["new_sockets"] == []
    assert report["holds_database"] is False  # no connection, no credentials object
    assert report["boto3_imported"] is False  # the url mode never needs it
    assert report["before_snapshot_s"] < 130  # Lambda's limit for the init with its hooks


@pytest.mark.parametrize("mode", ["secret", "iam"])
def test_in_the_aws_modes_the_sdk_is_imported_and_nothing_is_fetched(mode: str, aws_endpoint: AwsEndpoint) -> None:
    report = in_fresh_process({"functions": ["GetTaskFunction"]}, aws_mode(mode, aws_endpoint))
    assert report["boto3_imported"] is True  # the first connect's import, done before the snapshot
    assert report["new_sockets"] == []
    assert report["holds_database"] is False
    assert aws_endpoint.requests == []  # no secret fetched, no credentials asked for


def test_a_restored_environment_fetches_the_secret_itself(aws_endpoint: AwsEndpoint) -> None:
    event = json.loads((PROJECT_ROOT / "events" / "get_task.json").read_text())
    plan = {"functions": ["GetTaskFunction"], "forks": 1, "event": event}
    report = in_fresh_process(plan, aws_mode("secret", aws_endpoint))
    assert report["forks"][0]["status"] == 503  # the stand-in refuses the secret: unavailable
    # The request asked for the secret (the snapshot had none to reuse).
    assert aws_endpoint.requests == ["secretsmanager.GetSecretValue"]


# --- after each restore


def test_each_restore_draws_its_own_random_numbers(url_mode: dict[str, str]) -> None:
    report = in_fresh_process({"functions": ["HealthFunction"], "forks": 2}, url_mode)
    first, second = report["forks"]
    assert first["random"] != second["random"]


def test_without_the_after_restore_hooks_restores_would_draw_the_same_numbers(url_mode: dict[str, str]) -> None:
    # The check above can fail: the snapshot's state is shared until the hook reseeds it.
    report = in_fresh_process({"functions": ["HealthFunction"], "forks": 2, "after_restore": False}, url_mode)
    first, second = report["forks"]
    assert first["random"] == second["random"]


def test_a_connection_made_before_the_snapshot_is_never_shared_by_two_restores(url_mode: dict[str, str]) -> None:
    # An init that connects anyway (here: before the hooks run): each restore drops that
    # connection, without using it, and opens its own.
    plan = {"functions": ["HealthFunction"], "careless_init": True, "forks": 2, "query": True}
    report = in_fresh_process(plan, url_mode)
    backends = [fork["backend_pid"] for fork in report["forks"]]
    assert len(set(backends)) == 2
    assert report["init_backend_pid"] not in backends


def test_the_after_restore_hooks_stay_far_inside_lambdas_10_s(url_mode: dict[str, str]) -> None:
    plan = {"functions": ["HealthFunction"], "careless_init": True, "forks": 1}
    report = in_fresh_process(plan, url_mode)
    [fork] = report["forks"]
    assert fork["holds_database"] is False
    assert fork["after_restore_s"] < 2.0  # no network wait: a bound on hanging, not a speed target


# --- without SnapStart's library


def test_without_snapshot_restore_py_the_handlers_work_and_register_nothing(url_mode: dict[str, str]) -> None:
    script = (
        "import json, sys; sys.modules['snapshot_restore_py'] = None\n"  # import fails, as on python3.11
        "from local.emulator.context import LambdaContext\n"
        "from local.emulator.loader import load_handler, load_module\n"
        "from local.template import load_functions\n"
        "from tasks_core import snapstart\n"
        "function = load_functions()['HealthFunction']\n"
        "event = json.load(open('events/health.json'))\n"
        "response = load_handler(function)(event, LambdaContext('HealthFunction', 128, 10))\n"
        "print(snapstart.prepare(load_module(function).app), response['statusCode'])\n"
    )
    assert run_python(script, url_mode).split()[-2:] == ["False", "200"]
