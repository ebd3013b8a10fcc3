"""template.yaml against the code and the contract: handlers exist, routes are API.md's, and
the SAM and CloudFormation linters are clean."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from local.emulator.loader import load_handler
from local.template import PROJECT_ROOT, load_functions, load_template

FUNCTIONS = load_functions()
ROUTE_ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \|", re.MULTILINE)


def contract_routes() -> set[tuple[str, str]]:
    text = (PROJECT_ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    return {(method, path) for method, path in ROUTE_ROW.findall(text)}


def test_the_contract_lists_routes() -> None:
    assert len(contract_routes()) == 7


def test_routes_are_exactly_those_of_the_contract() -> None:
    template_routes = {(route.method, route.path) for fn in FUNCTIONS.values() for route in fn.routes}
    assert template_routes == contract_routes()


def test_each_operation_has_its_own_function() -> None:
    by_function = {fn.logical_id: sorted(route.method for route in fn.routes) for fn in FUNCTIONS.values()}
    assert by_function == {
        "CreateTaskFunction": ["POST"],
        "ListTasksFunction": ["GET"],
        "GetTaskFunction": ["GET"],
        "UpdateTaskFunction": ["PATCH", "PUT"],
        "DeleteTaskFunction": ["DELETE"],
        "HealthFunction": ["GET"],
        "MigrateFunction": [],
        "PurgeIdempotencyKeysFunction": [],
        "PreTrafficCheckFunction": [],
    }


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_resolves_to_a_callable_in_its_code_uri(logical_id: str) -> None:
    function = FUNCTIONS[logical_id]
    assert function.code_uri.is_dir()
    assert function.code_uri.parent == PROJECT_ROOT / "functions"
    assert function.module_path.is_file()
    assert callable(load_handler(function))


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_runs_python313_on_arm64_with_the_layer(logical_id: str) -> None:
    template = load_template()
    globals_ = template["Globals"]["Function"]
    properties = template["Resources"][logical_id]["Properties"]
    assert properties.get("Runtime", globals_["Runtime"]) == "python3.13"
    assert properties.get("Architectures", globals_["Architectures"]) == ["arm64"]
    assert {"Ref": "TasksCoreLayer"} in properties.get("Layers", globals_["Layers"])
    assert properties.get("Tracing", globals_["Tracing"]) == "Active"
    if FUNCTIONS[logical_id].routes:
        assert FUNCTIONS[logical_id].timeout_s < 30  # under API Gateway's integration timeout


def test_layer_is_built_for_python313_from_its_folder() -> None:
    layer = load_template()["Resources"]["TasksCoreLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    content = PROJECT_ROOT / layer["Properties"]["ContentUri"]
    assert (content / "requirements.txt").is_file()
    assert (content / "tasks_core" / "__init__.py").is_file()


def test_layer_requirements_are_pinned() -> None:
    lines = (PROJECT_ROOT / "layers/tasks_core/requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line.strip() and not line.startswith("#")]
    assert requirements
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", line) for line in requirements), requirements


def test_api_url_is_an_output() -> None:
    outputs = load_template()["Outputs"]
    assert "ApiUrl" in outputs
    assert "TasksApi" in outputs["ApiUrl"]["Value"]["Fn::Sub"]


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300, check=False
    )


def test_cfn_lint_is_clean() -> None:
    result = run_tool("cfn-lint", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    result = run_tool("sam", "validate", "--lint", "--template-file", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
