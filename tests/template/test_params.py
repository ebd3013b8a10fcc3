"""infra/params/: the CloudFormation parameter files are what samconfig.toml gives `sam deploy`."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from samcli.cli.types import CfnParameterOverridesType, CfnTags

from local.template import load_template
from tests.template.cloudformation import run_tool
from tools.params import (
    PARAMS_DIR,
    SAMCONFIG_PATH,
    StageConfig,
    load_stage_configs,
    merged,
    rendered,
    stage_configs,
    stale,
    template_parameters,
    write,
)

SAMCONFIG: dict[str, Any] = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
CONFIGS = load_stage_configs()
ENVIRONMENTS = [name for name, table in SAMCONFIG.items() if isinstance(table, dict) and "deploy" in table]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def config(environment: str) -> StageConfig:
    return next(config for config in CONFIGS if config.environment == environment)


def test_every_deployable_environment_has_its_stage() -> None:
    assert [config.environment for config in CONFIGS] == ENVIRONMENTS
    assert {config.stage for config in CONFIGS} == {"sandbox", "dev", "prod"}


def test_the_committed_files_are_what_samconfig_gives() -> None:
    """After a change of samconfig.toml (or a merge that changes it), `make params` rewrites them."""
    assert stale(rendered(CONFIGS)) == []
    result = run_tool(None, "tools.params", "check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_parameter_file_is_what_sam_deploy_passes(environment: str) -> None:
    """Read by SAM CLI's own parser of parameter_overrides and tags, not by the generator's."""
    deploy = SAMCONFIG[environment]["deploy"]["parameters"]
    given = deploy["parameter_overrides"]  # a string, or a TOML list of them
    overrides = CfnParameterOverridesType().convert(tuple(given) if isinstance(given, list) else (given,), None, None)
    tags = CfnTags().convert((deploy["tags"],), None, None) if "tags" in deploy else {}
    stage = overrides["Stage"]

    parameters = read_json(PARAMS_DIR / f"{stage}.json")
    assert parameters == [{"ParameterKey": key, "ParameterValue": value} for key, value in overrides.items()]
    assert read_json(PARAMS_DIR / f"{stage}.tags.json") == [{"Key": key, "Value": value} for key, value in tags.items()]
    pipeline = read_json(PARAMS_DIR / f"{stage}.template-config.json")
    assert pipeline["Parameters"] == overrides
    assert pipeline.get("Tags", {}) == tags
    assert set(pipeline) <= {"Parameters", "Tags", "StackPolicy"}  # CodePipeline's TemplateConfiguration keys


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_parameter_values_are_allowed_by_the_template(environment: str) -> None:
    specs = load_template()["Parameters"]
    for name, value in config(environment).parameters.items():
        spec = specs[name]
        if "AllowedValues" in spec:
            assert value in [str(allowed) for allowed in spec["AllowedValues"]], (name, value)
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (name, value)


def test_generator_reads_quotes_and_lists_as_sam_does(tmp_path: Path) -> None:
    samconfig = {
        "version": 0.1,
        "default": {"global": {"parameters": {"stack_name": "a", "region": "eu-west-1"}}},
        "qa": {
            "global": {"parameters": {"stack_name": "tasks-api-qa", "region": "eu-west-1"}},
            "deploy": {
                "parameters": {
                    "parameter_overrides": ['Stage=qa MetricsNamespace="Tasks QA"', "AlarmTopicArn=arn:x"],
                    "tags": 'team="platform ops"',
                }
            },
        },
    }
    [qa] = stage_configs(samconfig)
    assert qa.parameters == {"Stage": "qa", "MetricsNamespace": "Tasks QA", "AlarmTopicArn": "arn:x"}
    assert qa.tags == {"team": "platform ops"}
    files = rendered([qa], tmp_path)
    assert sorted(path.name for path in files) == ["qa.json", "qa.tags.json", "qa.template-config.json"]


def test_an_environment_without_a_stage_is_refused() -> None:
    samconfig = {"qa": {"global": {"parameters": {"stack_name": "x", "region": "y"}}, "deploy": {"parameters": {}}}}
    with pytest.raises(ValueError, match="sets no Stage"):
        stage_configs(samconfig)


def test_write_replaces_changed_files_and_check_reports_those_of_no_stage(tmp_path: Path) -> None:
    expected = rendered(CONFIGS, tmp_path)
    assert sorted(write(expected, tmp_path)) == sorted(expected)
    assert stale(expected, tmp_path) == []
    (tmp_path / "dev.json").write_text("[]\n")
    (tmp_path / "qa.json").write_text("[]\n")
    (tmp_path / "README.md").write_text("not generated\n")
    assert stale(expected, tmp_path) == [tmp_path / "dev.json", tmp_path / "qa.json"]
    assert write(expected, tmp_path) == [tmp_path / "dev.json"]
    # A file of no stage is never removed by the generator, only reported until a person does.
    assert stale(expected, tmp_path) == [tmp_path / "qa.json"]
    assert (tmp_path / "dev.json").read_text() == expected[tmp_path / "dev.json"]
    assert (tmp_path / "README.md").exists()


def test_merge_adds_this_accounts_values_after_the_stages() -> None:
    entries = merged(config("dev"), {"ProxyEndpoint": "proxy.example", "SubnetIds": "a,b"}, template_parameters())
    assert entries == [
        *read_json(PARAMS_DIR / "dev.json"),
        {"ParameterKey": "ProxyEndpoint", "ParameterValue": "proxy.example"},
        {"ParameterKey": "SubnetIds", "ParameterValue": "a,b"},
    ]


def test_merge_keep_previous_names_every_other_parameter_for_an_update() -> None:
    known = template_parameters()
    entries = merged(config("prod"), {"ProxyEndpoint": "proxy.example"}, known, keep_previous=True)
    assert [entry["ParameterKey"] for entry in entries if "ParameterValue" in entry] == [
        *config("prod").parameters,
        "ProxyEndpoint",
    ]
    previous = [entry for entry in entries if entry.get("UsePreviousValue") is True]
    assert {entry["ParameterKey"] for entry in previous} == set(known) - set(config("prod").parameters) - {
        "ProxyEndpoint"
    }
    assert all("ParameterValue" not in entry for entry in previous)  # CloudFormation refuses both


def test_merge_refuses_unknown_parameters_and_stage_values() -> None:
    with pytest.raises(ValueError, match=r"not parameters of template\.yaml: ProxyHost"):
        merged(config("dev"), {"ProxyHost": "x"}, template_parameters())
    with pytest.raises(ValueError, match=r"samconfig.toml's \[dev\] table.*LogLevel"):
        merged(config("dev"), {"LogLevel": "DEBUG"}, template_parameters())


def test_merge_command_takes_the_database_stacks_outputs(tmp_path: Path) -> None:
    outputs = tmp_path / "db-outputs.json"
    # The shape of `aws cloudformation describe-stacks --query 'Stacks[0].Outputs'`.
    outputs.write_text(
        json.dumps(
            [
                {"OutputKey": "ProxyEndpoint", "OutputValue": "p.proxy-x.eu-west-1.rds.amazonaws.com"},
                {"OutputKey": "ProxyPort", "OutputValue": "5432", "ExportName": "tasks-api-dev-ProxyPort"},
                {"OutputKey": "SubnetIds", "OutputValue": "subnet-a,subnet-b"},
                {"OutputKey": "DatabaseSecretArn", "OutputValue": "arn:aws:secretsmanager:..."},
            ]
        )
    )
    result = run_tool(None, "tools.params", "merge", "dev", "--outputs", str(outputs), "SubnetIds=subnet-c")
    assert result.returncode == 0, result.stderr
    values = {entry["ParameterKey"]: entry["ParameterValue"] for entry in json.loads(result.stdout)}
    stage = {
        entry["ParameterKey"]: entry["ParameterValue"] for entry in json.loads((PARAMS_DIR / "dev.json").read_text())
    }
    assert stage["Stage"] == "dev"
    assert values == {
        **stage,  # the stage's own values, from samconfig.toml
        "ProxyEndpoint": "p.proxy-x.eu-west-1.rds.amazonaws.com",
        "ProxyPort": "5432",
        "SubnetIds": "subnet-c",  # the command line wins; DatabaseSecretArn is no parameter
    }


def test_merge_command_says_what_is_wrong() -> None:
    result = run_tool(None, "tools.params", "merge", "dev", "LogLevel=DEBUG")
    assert result.returncode == 2
    assert "change them there: LogLevel" in result.stderr
    result = run_tool(None, "tools.params", "merge", "qa")
    assert result.returncode == 2
    assert "no samconfig.toml environment deploys stage 'qa'" in result.stderr
