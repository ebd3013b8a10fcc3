"""SnapStart in the template (docs/snapstart.md): the parameter, the functions it applies to, the
constraints SnapStart puts on them, each stage's value, and what a change of it publishes.

Stacks are translated as tests/template/test_deployments.py does (SAM CLI's LanguageExtensions,
then the SAM translator), so the checks read what CloudFormation would create.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.template import PROJECT_ROOT, load_functions, load_template
from tests.support.contract import API_FUNCTIONS
from tests.template.sam import REGION
from tests.template.test_deployments import HOOK, fingerprint_parameters, of_type, translate, versions
from tests.template.test_stack import BUCKET, IAM_MODE
from tools.params import key_values

TEMPLATE = load_template()
UNVERSIONED = ("MigrateFunction", "PurgeIdempotencyKeysFunction", HOOK)
# Lambda's SnapStart supports Python from 3.12 (docs/snapstart.md).
SNAPSTART_RUNTIMES = ("python3.12", "python3.13", "python3.14")


def lambda_functions(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each AWS::Lambda::Function's properties, by logical id."""
    return {name: value["Properties"] for name, value in of_type(stack, "AWS::Lambda::Function").items()}


@pytest.fixture(scope="module")
def stacks() -> Iterator[dict[str, dict[str, Any]]]:
    """The iam mode's stack with SnapStart on and off, by the parameter's value."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield {value: translate({**IAM_MODE, "SnapStart": value}, s3) for value in ("PublishedVersions", "None")}


@pytest.fixture(scope="module")
def snapstart_stack(stacks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The iam mode's stack with SnapStart on."""
    return stacks["PublishedVersions"]


def test_the_parameter_is_off_unless_a_stage_turns_it_on() -> None:
    spec = TEMPLATE["Parameters"]["SnapStart"]
    assert spec["Default"] == "None"
    assert spec["AllowedValues"] == ["PublishedVersions", "None"]  # Lambda's ApplyOn values


def test_the_api_functions_take_snapstart_from_the_parameter(snapstart_stack: dict[str, Any]) -> None:
    functions = lambda_functions(snapstart_stack)
    for function in API_FUNCTIONS:
        assert functions[function]["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    # The others are invoked unversioned ($LATEST), where SnapStart never applies: None, always.
    for function in UNVERSIONED:
        assert functions[function]["SnapStart"] == {"ApplyOn": "None"}


def test_snapstart_applies_to_the_versions_the_live_aliases_point_at(snapstart_stack: dict[str, Any]) -> None:
    # SnapStart works on published versions only; every API function publishes one for `live`.
    aliases = of_type(snapstart_stack, "AWS::Lambda::Alias")
    for function in API_FUNCTIONS:
        assert aliases[f"{function}Aliaslive"]["Properties"]["FunctionVersion"] == {
            "Fn::GetAtt": [versions(snapstart_stack)[function], "Version"]
        }


def test_the_functions_meet_snapstarts_constraints(snapstart_stack: dict[str, Any]) -> None:
    for function in API_FUNCTIONS:
        properties = lambda_functions(snapstart_stack)[function]
        assert properties["Runtime"] in SNAPSTART_RUNTIMES
        assert "FileSystemConfigs" not in properties  # no EFS with SnapStart
        assert properties.get("EphemeralStorage", {"Size": 512})["Size"] <= 512
    # No provisioned concurrency on any alias or version (SnapStart excludes it).
    for kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        for resource in of_type(snapstart_stack, kind).values():
            assert "ProvisionedConcurrencyConfig" not in resource["Properties"]


def test_turning_snapstart_on_publishes_every_api_function_anew(stacks: dict[str, dict[str, Any]]) -> None:
    # A snapshot is made only when a version is published: without a new version, `live` would
    # keep running the old one without SnapStart.
    assert "SnapStart" in fingerprint_parameters()
    on, off = versions(stacks["PublishedVersions"]), versions(stacks["None"])
    assert all(on[function] != off[function] for function in API_FUNCTIONS)


def test_production_and_staging_use_snapstart_and_the_quick_stages_do_not() -> None:
    samconfig = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    values = {
        environment: key_values(table["deploy"]["parameters"]["parameter_overrides"], environment)["SnapStart"]
        for environment, table in samconfig.items()
        if isinstance(table, dict) and "deploy" in table
    }
    assert values == {"default": "None", "dev": "None", "prod": "PublishedVersions", "staging": "PublishedVersions"}


def test_the_local_runtime_snapshots_the_api_functions_unless_told_otherwise() -> None:
    functions = load_functions(parameters={"DatabaseUrl": "postgresql://db"})
    assert {name for name, function in functions.items() if function.snap_start} == set(API_FUNCTIONS)
    off = load_functions(parameters={"DatabaseUrl": "postgresql://db", "SnapStart": "None"})
    assert not any(function.snap_start for function in off.values())
