"""Protected data and what other stacks may rely on: deletion and replace policies of every
stateful resource, the database stack's policy (infra/stack-policy.json), and the exports."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from local.template import PROJECT_ROOT, load_template

TEMPLATES = ("template.yaml", "infra/database.yaml")
STACK_POLICY = PROJECT_ROOT / "infra" / "stack-policy.json"

# Resource types whose deletion or replacement loses data. Log groups are left out on purpose:
# they hold operational logs with a retention period, and a retained group would outlive its
# stack empty forever. An Aurora instance (DBInstance in a cluster) holds no data of its own.
STATEFUL_TYPES = {
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::SecretsManager::Secret",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Serverless::SimpleTable",
    "AWS::EFS::FileSystem",
    "AWS::Backup::BackupVault",
    "AWS::Cognito::UserPool",
}
PROTECTIVE_DELETION = {"Retain", "RetainExceptOnCreate", "Snapshot"}
PROTECTIVE_REPLACE = {"Retain", "Snapshot"}
# What the stack policy must keep from being replaced or deleted by an update.
PROTECTED = {"DatabaseCluster": "AWS::RDS::DBCluster", "Proxy": "AWS::RDS::DBProxy"}
UPDATE_ACTIONS = ("Update:Modify", "Update:Replace", "Update:Delete")


def resources(path: str) -> dict[str, Any]:
    resources_: dict[str, Any] = load_template(PROJECT_ROOT / path)["Resources"]
    return resources_


def stateful() -> list[tuple[str, str]]:
    found = []
    for path in TEMPLATES:
        for logical_id, resource in resources(path).items():
            in_a_cluster = "DBClusterIdentifier" in resource.get("Properties", {})
            if resource["Type"] in STATEFUL_TYPES and not (resource["Type"] == "AWS::RDS::DBInstance" and in_a_cluster):
                found.append((path, logical_id))
    return found


def test_the_stateful_resources_are_found() -> None:
    assert ("infra/database.yaml", "DatabaseCluster") in stateful()


@pytest.mark.parametrize(("path", "logical_id"), stateful())
def test_stateful_resource_keeps_a_protective_deletion_and_replace_policy(path: str, logical_id: str) -> None:
    resource = resources(path)[logical_id]
    assert resource.get("DeletionPolicy") in PROTECTIVE_DELETION, (path, logical_id)
    assert resource.get("UpdateReplacePolicy") in PROTECTIVE_REPLACE, (path, logical_id)


def test_the_clusters_secret_is_kept_by_rds_and_deletion_protection_is_on_by_default() -> None:
    template = load_template(PROJECT_ROOT / "infra/database.yaml")
    cluster = template["Resources"]["DatabaseCluster"]["Properties"]
    # RDS creates, rotates and keeps the master secret with the cluster: no secret of the stack's
    # own to lose, and none in a template or parameter.
    assert cluster["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in cluster
    assert cluster["DeletionProtection"] == {"Ref": "DeletionProtection"}
    assert template["Parameters"]["DeletionProtection"]["Default"] == "true"


def _matches(patterns: str | list[str], value: str) -> bool:
    return any(
        fnmatch.fnmatchcase(value, pattern) for pattern in ([patterns] if isinstance(patterns, str) else patterns)
    )


def allowed(policy: dict[str, Any], action: str, logical_id: str) -> bool:
    """A stack policy's answer, as CloudFormation evaluates it: denied unless allowed, and a deny wins."""
    verdicts = set()
    for statement in policy["Statement"]:
        assert set(statement) == {"Effect", "Principal", "Action", "Resource"}, "a form this test does not evaluate"
        if _matches(statement["Action"], action) and _matches(statement["Resource"], f"LogicalResourceId/{logical_id}"):
            verdicts.add(statement["Effect"])
    return "Allow" in verdicts and "Deny" not in verdicts


def test_the_stack_policy_names_resources_of_the_database_stack() -> None:
    policy = json.loads(STACK_POLICY.read_text(encoding="utf-8"))
    database = resources("infra/database.yaml")
    assert {logical_id: database[logical_id]["Type"] for logical_id in PROTECTED} == PROTECTED
    for statement in policy["Statement"]:
        assert statement["Principal"] == "*"  # the only principal a stack policy takes
        named = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        for resource in named:
            assert resource == "*" or resource.removeprefix("LogicalResourceId/") in database, resource


@pytest.mark.parametrize("action", UPDATE_ACTIONS)
def test_the_stack_policy_forbids_replacing_or_deleting_the_cluster_and_the_proxy_only(action: str) -> None:
    policy = json.loads(STACK_POLICY.read_text(encoding="utf-8"))
    for logical_id in resources("infra/database.yaml"):
        expected = not (logical_id in PROTECTED and action != "Update:Modify")
        assert allowed(policy, action, logical_id) == expected, (action, logical_id)


def test_the_api_stack_exports_only_values_that_stay_put_under_its_stack_name() -> None:
    outputs = load_template()["Outputs"]
    exports = {name: output["Export"]["Name"] for name, output in outputs.items() if "Export" in output}
    assert exports == {
        "ApiUrl": {"Fn::Sub": "${AWS::StackName}-ApiUrl"},
        "ApiId": {"Fn::Sub": "${AWS::StackName}-ApiId"},
    }
    # A new layer version on every layer change: an imported export could never change.
    assert outputs["TasksCoreLayerArn"]["Value"] == {"Ref": "TasksCoreLayer"}
    assert outputs["ApiId"]["Value"] == {"Ref": "TasksApi"}


def test_the_database_stack_exports_the_api_stacks_parameters() -> None:
    """What `python -m tools.params merge --outputs` takes, by output name."""
    database = load_template(PROJECT_ROOT / "infra/database.yaml")["Outputs"]
    api_parameters = set(load_template()["Parameters"])
    iam_mode = {"ProxyEndpoint", "ProxyPort", "ProxyResourceId", "DatabaseName", "DatabaseUser", "SubnetIds"}
    assert iam_mode | {"SecurityGroupIds"} <= set(database) & api_parameters
    for name in iam_mode:
        assert database[name]["Export"]["Name"] == {"Fn::Sub": f"tasks-api-${{Stage}}-{name}"}


def test_the_guide_names_files_that_exist_and_the_exports_there_are() -> None:
    guide = (PROJECT_ROOT / "docs" / "deploy-cloudformation.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"(?<![\w/])((?:infra|docs|tools|tests)/[\w./<>-]*\w)", guide.replace("file://", " ")))
    assert "infra/stack-policy.json" in paths
    for path in paths:
        for stage in ("sandbox", "dev", "prod") if "<stage>" in path else ("",):
            assert (PROJECT_ROOT / path.replace("<stage>", stage)).exists(), path
    for name in ("ApiUrl", "ApiId"):
        assert f"<API stack name>-{name}" in guide
    assert "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" in guide
