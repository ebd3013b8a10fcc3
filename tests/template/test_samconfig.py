"""samconfig.toml has a table per environment with what `sam deploy` needs."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from local.template import PROJECT_ROOT, load_template

CONFIG: dict[str, Any] = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())


@pytest.mark.parametrize("environment", ["default", "dev", "prod"])
def test_environment_table(environment: str) -> None:
    table = CONFIG[environment]
    assert table["global"]["parameters"]["stack_name"].startswith("tasks-api-")
    assert table["global"]["parameters"]["region"]
    deploy = table["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    template_parameters = set(load_template()["Parameters"])
    overridden = {pair.split("=", 1)[0] for pair in deploy["parameter_overrides"].split()}
    assert overridden <= template_parameters
    assert f"Stage={environment if environment != 'default' else 'sandbox'}" in deploy["parameter_overrides"]


def test_stacks_are_distinct() -> None:
    names = [CONFIG[env]["global"]["parameters"]["stack_name"] for env in ("default", "dev", "prod")]
    assert len(set(names)) == 3
