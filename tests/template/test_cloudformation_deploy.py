"""The packaged template deployed as docs/deploy-cloudformation.md does it, in moto's CloudFormation.

For each stage: its committed parameter file (infra/params/<stage>.json) with one account's
values added by `python -m tools.params merge`, its tags file, a CREATE change set executed.
CloudFormation runs the LanguageExtensions and SAM transforms itself; moto does not, so they run
here first (tests/template/cloudformation.py). What moto cannot create (the HTTP API, the
migrations custom resource) is left out or stood in for; see there.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from local.template import load_template
from tests.template.cloudformation import client, deployable_in_moto, run_tool
from tests.template.conftest import Packaged
from tests.template.sam import transformed
from tools.params import PARAMS_DIR, load_stage_configs

# moto's CloudFormation has no alarms; they are checked in the template tests.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+Alarm")

STAGES = {config.stage: config for config in load_stage_configs()}
# One account's values (iam mode), as the database stack's outputs give them.
SITE = {
    "DatabaseAuthMode": "iam",
    "ProxyEndpoint": "tasks.proxy-abc123.eu-west-1.rds.amazonaws.com",
    "ProxyResourceId": "prx-0123456789abcdef0",
    "SubnetIds": "subnet-aaa,subnet-bbb",
    "SecurityGroupIds": "sg-123",
}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SAM translator reads the region of its pseudo parameters from boto3's settings.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def merge(stage: str, *arguments: str) -> list[dict[str, Any]]:
    """`python -m tools.params merge`, as the guide runs it."""
    result = run_tool(None, "tools.params", "merge", stage, *arguments)
    assert result.returncode == 0, result.stderr
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def values_of(entries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Parameter values by name."""
    return {entry["ParameterKey"]: entry["ParameterValue"] for entry in entries}


def create_with_change_set(
    standin: str, stack_name: str, template: dict[str, Any], parameters: list[dict[str, Any]], tags: list[Any]
) -> dict[str, Any]:
    """create-change-set (CREATE), describe it, execute-change-set; the stack afterwards."""
    cloudformation = client(standin, "cloudformation")
    name = f"create-{stack_name}"
    cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
        Parameters=parameters,
        Capabilities=CAPABILITIES,
        Tags=tags,
    )
    assert cloudformation.describe_change_set(StackName=stack_name, ChangeSetName=name)["Status"] == "CREATE_COMPLETE"
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=name)
    stack: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return stack


def physical_ids(standin: str, stack_name: str) -> dict[str, str]:
    summaries = client(standin, "cloudformation").list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return {summary["LogicalResourceId"]: summary["PhysicalResourceId"] for summary in summaries}


def sha256_of_object(standin: str, uri: str) -> str:
    """Lambda's CodeSha256 of the object a packaged CodeUri or ContentUri names."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = client(standin, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def deploy_stage(standin: str, packaged: Packaged, stage: str, stack_name: str) -> tuple[dict[str, Any], list[Any]]:
    """The stage's parameter and tags files plus SITE, in a CREATE change set; the stack and its parameters."""
    parameters = merge(stage, *(f"{name}={value}" for name, value in SITE.items()))
    tags = json.loads((PARAMS_DIR / f"{stage}.tags.json").read_text(encoding="utf-8"))
    template = deployable_in_moto(transformed(packaged.template, values_of(parameters), stack_name))
    return create_with_change_set(standin, stack_name, template, parameters, tags), parameters


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_each_stage_deploys_with_its_parameter_file(standin: str, packaged: Packaged, stage: str) -> None:
    stack_name = STAGES[stage].stack_name
    stack, parameters = deploy_stage(standin, packaged, stage, stack_name)
    committed = json.loads((PARAMS_DIR / f"{stage}.json").read_text(encoding="utf-8"))
    assert parameters[: len(committed)] == committed
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    given = {parameter["ParameterKey"]: parameter["ParameterValue"] for parameter in stack["Parameters"]}
    assert given.items() >= values_of(committed).items()
    assert {tag["Key"]: tag["Value"] for tag in stack.get("Tags", [])} == STAGES[stage].tags

    # Every function runs the very object the package uploaded for it, with the stage's settings.
    physical = physical_ids(standin, stack_name)
    lambda_ = client(standin, "lambda")
    functions = {
        logical_id: resource["Properties"]["CodeUri"]
        for logical_id, resource in packaged.template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert set(functions) == {
        logical_id
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    for logical_id, code_uri in functions.items():
        configuration = lambda_.get_function(FunctionName=physical[logical_id])["Configuration"]
        assert configuration["CodeSha256"] == sha256_of_object(standin, code_uri), logical_id
        environment = configuration["Environment"]["Variables"]
        assert environment["POWERTOOLS_LOG_LEVEL"] == STAGES[stage].parameters["LogLevel"]
        assert environment["DB_HOST"] == SITE["ProxyEndpoint"]
        # The pre-traffic hook calls AWS APIs only, from outside the VPC (docs/deployments.md).
        in_vpc = logical_id != "PreTrafficCheckFunction"
        assert configuration["VpcConfig"]["SubnetIds"] == (SITE["SubnetIds"].split(",") if in_vpc else [])
    # moto names the layer after the stack (not LayerName, checked in the template) and gives it
    # no physical id: it is found by the stack's name.
    [layer] = [layer for layer in lambda_.list_layers()["Layers"] if layer["LayerName"].startswith(f"{stack_name}-")]
    version = lambda_.get_layer_version(LayerName=layer["LayerName"], VersionNumber=1)
    layer_uri = packaged.template["Resources"]["TasksCoreLayer"]["Properties"]["ContentUri"]
    assert version["Content"]["CodeSha256"] == sha256_of_object(standin, layer_uri)


def test_another_stack_imports_the_exports(standin: str, packaged: Packaged) -> None:
    # create-stack rather than a change set: moto evaluates outputs and exports only there.
    stack_name = "tasks-api-exporting"
    parameters = merge("dev", *(f"{name}={value}" for name, value in SITE.items()))
    template = deployable_in_moto(transformed(packaged.template, values_of(parameters), stack_name))
    cloudformation = client(standin, "cloudformation")
    cloudformation.create_stack(
        StackName=stack_name, TemplateBody=json.dumps(template), Parameters=parameters, Capabilities=CAPABILITIES
    )
    outputs = {
        output["OutputKey"]: output
        for output in cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["Outputs"]
    }
    assert {name: output.get("ExportName") for name, output in outputs.items()} == {
        "ApiUrl": f"{stack_name}-ApiUrl",
        "ApiId": f"{stack_name}-ApiId",
        "TasksCoreLayerArn": None,
        "DashboardUrl": None,  # per region and stack: nothing to import
    }
    exports = {export["Name"]: export["Value"] for export in cloudformation.list_exports()["Exports"]}
    assert exports[f"{stack_name}-ApiUrl"] == outputs["ApiUrl"]["OutputValue"]
    assert outputs["ApiUrl"]["OutputValue"].startswith("https://")

    importer = {
        "Resources": {
            name: {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": f"imported-{name}",
                    "Type": "String",
                    "Value": {"Fn::ImportValue": f"{stack_name}-{name}"},
                },
            }
            for name in ("ApiUrl", "ApiId")
        }
    }
    cloudformation.create_stack(StackName="tasks-api-importer", TemplateBody=json.dumps(importer))
    importing = cloudformation.describe_stacks(StackName="tasks-api-importer")["Stacks"][0]
    assert importing["StackStatus"] == "CREATE_COMPLETE", importing.get("StackStatusReason")
    ssm = client(standin, "ssm")
    for name in ("ApiUrl", "ApiId"):
        assert ssm.get_parameter(Name=f"imported-{name}")["Parameter"]["Value"] == outputs[name]["OutputValue"]
