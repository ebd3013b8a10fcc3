"""What the local runtime reads from a template: routes, layers, settings, CORS, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.emulator.reload import affected, watched_paths
from local.emulator.variables import apply_overrides, lambda_environment
from local.gateway.cors import apply, is_preflight, preflight
from local.gateway.payload import HttpResponse
from local.template import PROJECT_ROOT, Cors, load_cors, load_functions

FIXTURES = PROJECT_ROOT / "tests" / "e2e" / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"


def test_product_functions_have_their_layer_and_routes() -> None:
    functions = load_functions(parameters={"DatabaseUrl": "postgresql://db"})
    update = functions["UpdateTaskFunction"]
    assert update.layers == [PROJECT_ROOT / "layers" / "tasks_core"]
    assert {(route.method, route.path, route.api) for route in update.routes} == {
        ("PUT", "/users/{user_id}/tasks/{task_id}", "TasksApi"),
        ("PATCH", "/users/{user_id}/tasks/{task_id}", "TasksApi"),
    }
    assert update.timeout_s == 10
    assert update.environment["DATABASE_URL"] == "postgresql://db"
    assert load_cors() == {}


def test_fixture_template_settings() -> None:
    functions = load_functions(FIXTURE_TEMPLATE, parameters={"Greeting": "hey"})
    assert functions["SleepFunction"].reserved_concurrency == 2
    assert functions["EchoFunction"].reserved_concurrency is None
    assert functions["TimeoutFunction"].timeout_s == 1
    assert functions["EchoFunction"].memory_mb == 256
    assert functions["EchoFunction"].layers == [FIXTURES / "layer"]
    assert functions["EchoFunction"].environment["SUBBED"] == "hey@us-east-1"
    (route,) = functions["IntegrationTimeoutFunction"].routes
    assert route.timeout_ms == 300
    assert functions["EchoFunction"].routes[0].timeout_ms == 30000


def test_cors_configuration() -> None:
    assert load_cors(FIXTURE_TEMPLATE) == {
        "ProbeApi": Cors(
            allow_origins=("https://app.example.com",),
            allow_methods=("GET", "POST"),
            allow_headers=("content-type", "authorization"),
            expose_headers=("x-probe",),
            max_age=600,
            allow_credentials=True,
        )
    }
    assert Cors.from_template(True) == Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    assert Cors.from_template(None) is None


def test_wildcard_origin_preflight_and_response() -> None:
    cors = Cors(allow_origins=("*",), allow_methods=("*",))
    headers = {"origin": "http://localhost:5173", "access-control-request-method": "DELETE"}
    assert is_preflight("OPTIONS", headers)
    assert not is_preflight("GET", headers)
    answer = preflight(cors, headers)
    assert (answer.status, answer.header("access-control-allow-origin")) == (204, "*")
    response = apply(cors, {"origin": "http://x"}, HttpResponse(200, [("Access-Control-Max-Age", "1")], b""))
    assert response.headers == [("access-control-allow-origin", "*")]


def test_env_vars_file_overrides_only_declared_variables() -> None:
    functions = load_functions(FIXTURE_TEMPLATE)
    overrides = {
        "Parameters": {"GREETING": "all", "NOT_DECLARED": "x"},
        "EchoFunction": {"GREETING": "echo", "NEW": "y"},
    }
    changed, ignored = apply_overrides(functions, overrides)
    assert changed["EchoFunction"].environment["GREETING"] == "echo"
    assert changed["ShapeFunction"].environment["GREETING"] == "all"
    assert "NOT_DECLARED" not in changed["ShapeFunction"].environment
    assert ignored == ["EchoFunction.NEW"]


def test_worker_environment_is_lambdas_not_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_DEVELOPER_VARIABLE", "leak")
    function = load_functions(FIXTURE_TEMPLATE)["EchoFunction"]
    env = lambda_environment(function)
    assert "SOME_DEVELOPER_VARIABLE" not in env
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["_HANDLER"] == "app.echo"
    assert env["FUNCTION_ONLY"] == "echo"


def test_reload_affects_the_owner_of_a_change_or_everyone_for_a_layer() -> None:
    functions = load_functions()
    assert PROJECT_ROOT / "layers" / "tasks_core" in watched_paths(functions)
    assert affected(functions, [PROJECT_ROOT / "functions" / "get_task" / "app.py"]) == {"GetTaskFunction"}
    assert affected(functions, [PROJECT_ROOT / "layers" / "tasks_core" / "tasks_core" / "db.py"]) == set(functions)
    assert affected(functions, [Path("/elsewhere")]) == set(functions)
