"""Packaging and deploying template.yaml as plain CloudFormation would, against a local AWS stand-in.

`python -m tools.package` (what `make package` runs) packages into moto's server (tools.standin);
the packaged template is then transformed as CloudFormation transforms it, LanguageExtensions
and then SAM (tests/template/sam.py), and created in the same server's CloudFormation, whose
Lambda reads the code from the objects the package uploaded.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from tests.template.sam import REGION
from tools.params import PROJECT_ROOT
from tools.standin import standin_environment

# moto's CloudFormation creates no HTTP API, cannot run the migrations custom resource and has no
# Lambda aliases (the API's invoke permissions name them, so they go too; tests/template checks
# them in the translated template instead).
NOT_IN_MOTO = ("AWS::ApiGatewayV2::", "Custom::", "AWS::Lambda::Alias")
# The HTTP API is replaced by a parameter moto can create, so that outputs and exports that
# name the API (its id, its URL) resolve as they would in AWS.
API_STAND_IN = {
    "Type": "AWS::SSM::Parameter",
    "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-http-api"}, "Type": "String", "Value": "-"},
}


def version_stand_in(logical_id: str) -> dict[str, Any]:
    """A parameter moto can create in place of a Lambda version, its name an ARN-like string."""
    return {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{logical_id}"}, "Type": "String", "Value": "-"},
    }


def client(url: str, service: str) -> Any:
    """A boto3 client of the stand-in (never a real account: its endpoint and credentials are fake)."""
    environment = standin_environment(url, base={})
    factory: Any = boto3.client  # typed per literal service name; these tests name several
    return factory(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def create_bucket(url: str, bucket: str) -> None:
    """A bucket in REGION of the stand-in, unless it is there (a module fixture may run again)."""
    s3 = client(url, "s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def run_tool(url: str | None, *args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m <args>` as `make` runs it, every AWS call sent to the stand-in (or none at all)."""
    environment = standin_environment(url) if url else {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environment, "PYTHONPATH": str(PROJECT_ROOT)},
        timeout=600,
        check=False,
    )


def package(url: str, template: Path, bucket: str, prefix: str, output: Path) -> subprocess.CompletedProcess[str]:
    """`python -m tools.package` into the stand-in's bucket; fails the test when it fails."""
    result = run_tool(
        url, "tools.package", "--template", str(template), "--bucket", bucket, "--prefix", prefix,
        "--region", REGION, "--endpoint-url", url, "--output", str(output),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def deployable_in_moto(template: dict[str, Any]) -> dict[str, Any]:
    """The transformed template minus what moto cannot create (and what refers to it)."""
    template = copy.deepcopy(template)
    resources = template["Resources"]
    for logical_id, resource in list(resources.items()):
        if resource["Type"] == "AWS::ApiGatewayV2::Api":
            resources[logical_id] = copy.deepcopy(API_STAND_IN)
        elif resource["Type"] == "AWS::Lambda::Version":
            # moto's Ref of a version is an object, not the version's ARN: the pre-traffic hook's
            # variables that name the new versions could not be created.
            resources[logical_id] = version_stand_in(logical_id)
    removed = {key for key, value in resources.items() if value["Type"].startswith(NOT_IN_MOTO)}
    while removed & resources.keys():
        for logical_id in removed & resources.keys():
            del resources[logical_id]
        removed |= {key for key, value in resources.items() if any(_refers(value, name) for name in removed)}
    for resource in resources.values():
        if resource.get("DependsOn"):
            depends = [resource["DependsOn"]] if isinstance(resource["DependsOn"], str) else resource["DependsOn"]
            resource["DependsOn"] = [name for name in depends if name in resources]
    return template


def _refers(resource: dict[str, Any], name: str) -> bool:
    text = json.dumps({key: value for key, value in resource.items() if key != "DependsOn"})
    return any(pattern in text for pattern in (f'{{"Ref": "{name}"}}', f'["{name}", ', f"${{{name}}}", f"${{{name}."))
