"""infra/github-oidc.yaml: who can assume the deploy role, and what the two roles may do.

The policies are resolved as CloudFormation would resolve them for one stage, then evaluated
here the way IAM evaluates an Allow (actions and resources with their wildcards, and the
conditions they carry): the trust policy against the claims of GitHub tokens that must and must
not get in, and the execution role against what CloudFormation's handlers need for every
resource type of template.yaml after its transforms (the handlers' permissions and IAM's action
list as cfn-lint ships them).
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pytest

from local.template import PROJECT_ROOT, Resolver, load_template
from tests.template.sam import translated

TEMPLATE_PATH = PROJECT_ROOT / "infra" / "github-oidc.yaml"
ACCOUNT = "123456789012"
REGION = "us-east-1"  # local.template's pseudo parameters
STACK = "tasks-api-prod"
REPOSITORY = "octo-org/tasks-api"
PARAMETERS = {
    "GitHubRepository": REPOSITORY,
    "GitHubEnvironment": "production",
    "ApiStackName": STACK,
    "Stage": "prod",
}
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
EXECUTION_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/tasks-api-github-prod-CloudFormationExecutionRole-X1"
BUCKET = "tasks-api-github-prod-artifactsbucket-x1"
CFNLINT_DATA = importlib.resources.files("cfnlint") / "data"

# Permissions CloudFormation's handlers list for a resource type that this stack never makes them
# use, each with the reason. Anything else a handler lists must be allowed.
NOT_NEEDED = {
    "kms:": "no function, log group or layer has a customer managed KMS key",
    "elasticfilesystem:": "no function mounts EFS",
    "s3files:": "no function mounts S3 Files",
    "firehose:": "no log group delivers to Firehose",
    "lambda:GetCodeSigningConfig": "no code signing config",
    "lambda:PutFunctionCodeSigningConfig": "no code signing config",
    "lambda:DeleteFunctionCodeSigningConfig": "no code signing config",
    "lambda:PassCapacityProvider": "no Lambda managed instances capacity provider",
    "lambda:AssociateRuntimeAlias": "no runtime alias",
    "lambda:ListFunctions": "list handlers are not used by stack operations",
    "iam:AttachGroupPolicy": "the stack's policies attach to roles only",
    "iam:AttachUserPolicy": "the stack's policies attach to roles only",
    "iam:DetachGroupPolicy": "the stack's policies attach to roles only",
    "iam:DetachUserPolicy": "the stack's policies attach to roles only",
    "iam:PutRolePermissionsBoundary": "the functions' roles have no permissions boundary",
    "iam:DeleteRolePermissionsBoundary": "the functions' roles have no permissions boundary",
    "logs:AssociateKmsKey": "no customer managed KMS key",
    "logs:DisassociateKmsKey": "no customer managed KMS key",
    "logs:PutDataProtectionPolicy": "no log group has a data protection policy",
    "logs:DeleteDataProtectionPolicy": "no log group has a data protection policy",
    "logs:PutIndexPolicy": "no log group has a field index policy",
    "logs:DeleteIndexPolicy": "no log group has a field index policy",
    "logs:DeleteResourcePolicy": "no log group has a resource policy of its own",
    "logs:PutLogGroupDeletionProtection": "no log group sets deletion protection",
    "logs:PutBearerTokenAuthentication": "no log group takes bearer tokens",
    "s3:getObject": "the HTTP API's definition is inline, not in S3 (BodyS3Location)",
    "lambda:PutProvisionedConcurrencyConfig": "no alias or version has provisioned concurrency",
    "lambda:DeleteProvisionedConcurrencyConfig": "no alias or version has provisioned concurrency",
    # The deployment group handler registers and deploys a revision only for its Deployment
    # property (EC2 and on-premises instances); the aliases' deployments carry their AppSpec, and
    # the alias handler's own list has neither action.
    "codedeploy:RegisterApplicationRevision": "no deployment group has a Deployment property",
    "codedeploy:GetApplicationRevision": "no deployment group has a Deployment property",
    "codedeploy:RegisterOnPremisesInstance": "Lambda deployment groups have no instances",
}
# iam:PassRole in the rule handler is for targets that have a role; the purge schedule's has none.
NOT_NEEDED_FOR_TYPE = {("AWS::Events::Rule", "iam:PassRole")}
# Stage configurations whose resource types differ: iam mode with a VPC, the authorizer, the proxy
# and an alarm topic; secret mode without them.
API_CONFIGURATIONS = [
    {
        "DatabaseAuthMode": "iam",
        "ProxyEndpoint": "tasks-api-prod.proxy-x.us-east-1.rds.amazonaws.com",
        "ProxyResourceId": "prx-0123456789abcdef0",
        "SubnetIds": "subnet-a,subnet-b",
        "SecurityGroupIds": "sg-1",
        "AuthEnabled": "true",
        "JwtIssuer": "https://issuer.example.com",
        "JwtAudience": "tasks",
        "ProxyName": "tasks-api-prod",
        "AlarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
    },
    {"DatabaseAuthMode": "secret", "ProxyEndpoint": "proxy.example.com", "DatabaseSecretName": "tasks/db"},
]


class _CloudFormation(Resolver):
    """local.template's resolver, with the ARNs CloudFormation would give this stack's resources."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        super().__init__(template, parameters)
        self.values.update(
            {
                "GitHubOidcProvider": PROVIDER_ARN,
                "ArtifactsBucket": BUCKET,
                "ArtifactsBucket.Arn": f"arn:aws:s3:::{BUCKET}",
                "CloudFormationExecutionRole.Arn": EXECUTION_ROLE_ARN,
            }
        )

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {**super()._intrinsics(), "Fn::GetAtt": lambda args: self.values[".".join(args)]}


def resolved(parameters: Mapping[str, str] = PARAMETERS) -> dict[str, Any]:
    """The template's resources with every intrinsic resolved for one stage."""
    template = load_template(TEMPLATE_PATH)
    resolver = _CloudFormation(template, parameters)
    resources = {
        name: resource
        for name, resource in template["Resources"].items()
        if resolver.conditions.get(resource.get("Condition", ""), True)
    }
    result: dict[str, Any] = resolver.resolve(resources)
    return result


def statements(role: str, parameters: Mapping[str, str] = PARAMETERS) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies."""
    properties = resolved(parameters)[role]["Properties"]
    return [statement for policy in properties["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: * is any run of characters, ? any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE if ignore_case else 0) is not None


def condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """The operators these templates use; a key absent from the request never matches."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                return False
            if operator in ("StringEquals", "Bool") and actual not in [str(e) for e in as_list(expected)]:
                return False
            if operator in ("StringLike", "ArnLike") and not any(glob(e, actual) for e in as_list(expected)):
                return False
            if operator not in ("StringEquals", "Bool", "StringLike", "ArnLike"):
                raise AssertionError(f"an operator the test cannot evaluate: {operator}")
    return True


def allowed(policy: list[dict[str, Any]], action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
    """Whether an Allow statement grants the action on the resource (no Deny in these policies)."""
    return any(
        statement["Effect"] == "Allow"
        and any(glob(pattern, action, ignore_case=True) for pattern in as_list(statement["Action"]))
        and any(glob(pattern, resource) for pattern in as_list(statement["Resource"]))
        and condition_holds(statement.get("Condition", {}), context or {})
        for statement in policy
    )


@cache
def iam_actions() -> dict[str, dict[str, Any]]:
    """IAM's actions per service prefix, with the resource types each one takes (cfn-lint's copy)."""
    data: dict[str, dict[str, Any]] = json.loads((CFNLINT_DATA / "AdditionalSpecs" / "Policies.json").read_text())
    return {prefix: service["Actions"] for prefix, service in data.items()}


def resource_types(action: str) -> list[str] | None:
    """The resource types an IAM action can be scoped to ([] for none), or None if it is no action."""
    prefix, name = action.split(":", 1)
    entry = iam_actions().get(prefix, {}).get(name.lower())
    return None if entry is None else list(entry.get("Resources", []))


def handler_permissions(resource_type: str) -> set[str]:
    """What CloudFormation's handlers for a resource type may call (create, read, update, delete)."""
    providers = json.loads((CFNLINT_DATA / "schemas" / "providers" / "us-east-1.json").read_text())
    schema = json.loads((CFNLINT_DATA / "schemas" / "resources" / f"{providers[resource_type]}.json").read_text())
    return {
        permission
        for operation in ("create", "read", "update", "delete")
        for permission in schema["handlers"].get(operation, {}).get("permissions", [])
    }


# --- trust: exactly the deploy job of one environment of one repository -----------------------


def claims(subject: str, audience: str = "sts.amazonaws.com") -> dict[str, str]:
    return {"token.actions.githubusercontent.com:sub": subject, "token.actions.githubusercontent.com:aud": audience}


def can_assume(token: Mapping[str, str], parameters: Mapping[str, str] = PARAMETERS) -> bool:
    trust = resolved(parameters)["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return any(
        statement["Effect"] == "Allow"
        and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        and statement["Principal"] == {"Federated": PROVIDER_ARN}
        and condition_holds(statement["Condition"], token)
        for statement in trust
    )


def test_the_production_deploy_job_can_assume_the_role() -> None:
    assert can_assume(claims(f"repo:{REPOSITORY}:environment:production"))


@pytest.mark.parametrize(
    "token",
    [
        claims(f"repo:{REPOSITORY}:environment:staging"),  # another environment
        claims(f"repo:{REPOSITORY}:ref:refs/heads/main"),  # a job on main without the environment
        claims(f"repo:{REPOSITORY}:pull_request"),  # a pull request
        claims("repo:someone/tasks-api:environment:production"),  # a fork or another repository
        claims("repo:octo-org/tasks-api-fork:environment:production"),  # a name that only starts alike
        claims(f"repo:{REPOSITORY.upper()}:environment:production"),  # the comparison is exact
        claims(f"repo:{REPOSITORY}:environment:production", audience="https://github.com/octo-org"),
        {"token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:production"},  # no aud
    ],
    ids=["other-environment", "branch", "pull-request", "fork", "prefix", "case", "audience", "no-audience"],
)
def test_no_other_token_can_assume_it(token: dict[str, str]) -> None:
    assert not can_assume(token)


def test_the_trust_has_no_wildcard_and_uses_the_existing_provider_when_given() -> None:
    parameters = {**PARAMETERS, "GitHubOidcProviderArn": PROVIDER_ARN}
    resources = resolved(parameters)
    assert "GitHubOidcProvider" not in resources  # the account's provider is reused, not created again
    [statement] = resources["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert set(statement["Condition"]) == {"StringEquals"}  # no StringLike: no wildcard subject
    assert can_assume(claims(f"repo:{REPOSITORY}:environment:production"), parameters)
    provider = resolved()["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_the_execution_role_is_for_cloudformation_only() -> None:
    [statement] = resolved()["CloudFormationExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


# --- the deploy role: change sets of one stack, through the execution role ----------------------

STACK_ARN = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0a1b2c3d"
# What a scoped resource may name: the stack (its resources and its hook, CodeDeployHook_<stack>-...),
# its layer, its bucket, the execution role, the transforms, HTTP APIs, CodeDeploy's Lambda configs.
SCOPES = (
    STACK,
    "tasks-core-prod",
    BUCKET,
    EXECUTION_ROLE_ARN,
    ":aws:transform/",
    "::/apis",
    "::/tags/",
    f"codedeploy:{REGION}:{ACCOUNT}:deploymentconfig:CodeDeployDefault.Lambda",
)
FUNCTION_ROLE = f"role/{STACK}-CreateTaskFunctionRole-AbC1"
TO_LAMBDA = {"iam:PassedToService": "lambda.amazonaws.com"}
TO_EC2 = {"iam:PassedToService": "ec2.amazonaws.com"}
BASIC_EXECUTION = {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
STACK_POLICY = {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-DatabaseAccessPolicy-AbC1"}
ADMINISTRATOR = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
HOOK = "CodeDeployHook_tasks-api-prod-pre-traffic"  # template.yaml's PreTrafficCheckFunction, Stage prod
APPLICATION = f"{STACK}-ServerlessDeploymentApplication-AbC1"
CODEDEPLOY_ROLE = f"role/{STACK}-CodeDeployServiceRole-AbC1"
CODEDEPLOY_POLICY = {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"}


@pytest.mark.parametrize(
    "action",
    [
        "cloudformation:DescribeStacks",
        "cloudformation:GetTemplateSummary",
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeStackEvents",
    ],
)
def test_the_deploy_role_runs_what_sam_deploy_calls_on_its_stack(action: str) -> None:
    policy = statements("DeployRole")
    assert allowed(policy, action, STACK_ARN)
    assert not allowed(policy, action, f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/other-stack/0a1b2c3d")


def test_the_deploy_role_creates_change_sets_only_with_the_execution_role() -> None:
    policy = statements("DeployRole")
    with_role = {"cloudformation:RoleArn": EXECUTION_ROLE_ARN}
    assert allowed(policy, "cloudformation:CreateChangeSet", STACK_ARN, with_role)
    assert not allowed(policy, "cloudformation:CreateChangeSet", STACK_ARN)  # with the caller's rights
    other = {"cloudformation:RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Admin"}
    assert not allowed(policy, "cloudformation:CreateChangeSet", STACK_ARN, other)
    for transform in ("Serverless-2016-10-31", "LanguageExtensions"):
        assert allowed(
            policy, "cloudformation:CreateChangeSet", f"arn:aws:cloudformation:{REGION}:aws:transform/{transform}"
        )
    to_cloudformation = {"iam:PassedToService": "cloudformation.amazonaws.com"}
    assert allowed(policy, "iam:PassRole", EXECUTION_ROLE_ARN, to_cloudformation)
    assert not allowed(policy, "iam:PassRole", EXECUTION_ROLE_ARN, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allowed(policy, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Admin", to_cloudformation)


def test_the_deploy_role_uploads_under_its_stacks_prefix_and_creates_nothing_itself() -> None:
    policy = statements("DeployRole")
    assert allowed(policy, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/{STACK}/0123abcd.template")
    assert not allowed(policy, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/tasks-api-staging/0123abcd")
    assert allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": f"{STACK}/0123abcd"})
    assert not allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "other/"})
    for action, resource in [
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-CreateTaskFunction-X1"),
        ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{STACK}-Anything"),
        ("cloudformation:DeleteStack", STACK_ARN),
        ("cloudformation:UpdateStack", STACK_ARN),
    ]:
        assert not allowed(policy, action, resource), action


# --- the execution role: what template.yaml's resources need, on the stack's names -------------


def template_resource_types() -> set[str]:
    types = {
        resource["Type"]
        for parameters in API_CONFIGURATIONS
        for resource in translated(parameters)["Resources"].values()
    }
    assert "AWS::Lambda::Function" in types
    return types


def test_every_handler_permission_of_the_stacks_resource_types_is_granted() -> None:
    policy = statements("CloudFormationExecutionRole")
    granted = {pattern for statement in policy for pattern in as_list(statement["Action"])}
    missing: dict[str, list[str]] = {}
    for resource_type in sorted(template_resource_types()):
        if resource_type.startswith("Custom::"):
            continue  # the migrations custom resource: tested below
        for permission in sorted(handler_permissions(resource_type)):
            if resource_types(permission) is None:
                continue  # a name in the schema that IAM has no action for (e.g. s3:REST.PUT.OBJECT)
            if any(permission.startswith(prefix) for prefix in NOT_NEEDED if prefix.endswith(":")):
                continue
            if permission in NOT_NEEDED or (resource_type, permission) in NOT_NEEDED_FOR_TYPE:
                continue
            if not any(glob(pattern, permission, ignore_case=True) for pattern in granted):
                missing.setdefault(resource_type, []).append(permission)
    assert not missing


def test_nothing_is_granted_that_is_not_needed() -> None:
    policy = statements("CloudFormationExecutionRole")
    needed = set().union(*(handler_permissions(t) for t in template_resource_types() if not t.startswith("Custom::")))
    needed_lower = {permission.lower() for permission in needed}
    # Beyond the handlers' lists: the custom resource's invoke, the log delivery of the API's access
    # logs, and the reads and version publishing a function update makes.
    extra = {
        "lambda:InvokeFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:GetFunctionConcurrency",
        "lambda:ListTags",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "iam:TagPolicy",
        "iam:UntagPolicy",
        "events:ListTagsForResource",
        "events:ListTargetsByRule",
    }
    for statement in policy:
        for action in as_list(statement["Action"]):
            assert "*" not in action
            assert resource_types(action) is not None, f"{action} is no IAM action"
            assert action.lower() in needed_lower or action in extra, action


@pytest.mark.parametrize("role", ["DeployRole", "CloudFormationExecutionRole"])
def test_star_only_where_iam_allows_no_resource(role: str) -> None:
    for statement in statements(role):
        resources = as_list(statement["Resource"])
        for action in as_list(statement["Action"]):
            kinds = resource_types(action)
            assert kinds is not None, action
            if "*" in resources:
                assert kinds == [], f"{action} can be scoped to {kinds}, not *"
            else:
                assert kinds, f"{action} takes only *, so {resources} never matches"
                # Scoped: to this stack, its layer or its bucket, in this account.
                for resource in resources:
                    assert any(name in resource for name in SCOPES), resource


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        ("lambda:CreateFunction", f"function:{STACK}-CreateTaskFunction-AbC1", {}, True),
        ("lambda:UpdateFunctionCode", "function:tasks-api-staging-CreateTaskFunction-AbC1", {}, False),
        ("lambda:InvokeFunction", f"function:{STACK}-MigrateFunction-AbC1", {}, True),
        ("lambda:PublishLayerVersion", "layer:tasks-core-prod", {}, True),
        ("lambda:GetLayerVersion", "layer:tasks-core-prod:7", {}, True),
        ("lambda:PublishLayerVersion", "layer:tasks-core-staging", {}, False),
        ("iam:CreateRole", f"role/{STACK}-CreateTaskFunctionRole-AbC1", {}, True),
        ("iam:CreateRole", "role/Admin", {}, False),
        (
            "iam:PassRole",
            f"role/{STACK}-CreateTaskFunctionRole-AbC1",
            {"iam:PassedToService": "lambda.amazonaws.com"},
            True,
        ),
        (
            "iam:PassRole",
            f"role/{STACK}-CreateTaskFunctionRole-AbC1",
            {"iam:PassedToService": "ec2.amazonaws.com"},
            False,
        ),
        (
            "iam:AttachRolePolicy",
            f"role/{STACK}-CreateTaskFunctionRole-AbC1",
            {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
            True,
        ),
        (
            "iam:AttachRolePolicy",
            f"role/{STACK}-CreateTaskFunctionRole-AbC1",
            {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-DatabaseAccessPolicy-AbC1"},
            True,
        ),
        (
            "iam:AttachRolePolicy",
            f"role/{STACK}-CreateTaskFunctionRole-AbC1",
            {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
            False,
        ),
        ("iam:CreatePolicy", f"policy/{STACK}-DatabaseAccessPolicy-AbC1", {}, True),
        ("logs:CreateLogGroup", f"log-group:{STACK}-CreateTaskLogGroup-AbC1", {}, True),
        ("logs:DeleteLogGroup", "log-group:/aws/lambda/someone-else", {}, False),
        ("cloudwatch:PutMetricAlarm", f"alarm:{STACK}-Api5xxRateAlarm-AbC1", {}, True),
        ("cloudwatch:PutDashboard", f"dashboard/{STACK}-us-east-1", {}, True),
        ("events:PutRule", f"rule/{STACK}-PurgeIdempotencyKeysFu-AbC1", {}, True),
        ("s3:GetObject", f"{STACK}/3a144c5c7526e06e3b48916bf2333a6d", {}, True),
        ("s3:GetObject", "tasks-api-staging/3a144c5c7526e06e3b48916bf2333a6d", {}, False),
        # The hook, by its exact name: not another stage's, and CloudFormation never invokes it.
        ("lambda:CreateFunction", f"function:{HOOK}", {}, True),
        ("lambda:PutFunctionConcurrency", f"function:{HOOK}", {}, True),
        ("lambda:CreateFunction", "function:CodeDeployHook_tasks-api-prod-eu-pre-traffic", {}, False),
        ("lambda:CreateFunction", "function:CodeDeployHook_tasks-api-staging-pre-traffic", {}, False),
        ("lambda:InvokeFunction", f"function:{HOOK}", {}, False),
        ("lambda:AddPermission", f"function:{HOOK}", {}, False),
        # Versions and the live alias of the stack's functions.
        ("lambda:PublishVersion", f"function:{STACK}-CreateTaskFunction-AbC1", {}, True),
        ("lambda:ListVersionsByFunction", f"function:{STACK}-CreateTaskFunction-AbC1", {}, True),
        ("lambda:UpdateAlias", f"function:{STACK}-CreateTaskFunction-AbC1:live", {}, True),
        ("lambda:GetProvisionedConcurrencyConfig", f"function:{STACK}-CreateTaskFunction-AbC1:7", {}, True),
        ("lambda:UpdateAlias", "function:someone-else:live", {}, False),
        ("lambda:AddPermission", f"function:{STACK}-CreateTaskFunction-AbC1:live", {}, True),
        # SAM's CodeDeploy service role: its managed policy, passed to CodeDeploy, and only it.
        ("iam:AttachRolePolicy", CODEDEPLOY_ROLE, CODEDEPLOY_POLICY, True),
        ("iam:AttachRolePolicy", f"role/{STACK}-CreateTaskFunctionRole-AbC1", CODEDEPLOY_POLICY, False),
        (
            "iam:AttachRolePolicy",
            CODEDEPLOY_ROLE,
            {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
            False,
        ),
        ("iam:PassRole", CODEDEPLOY_ROLE, {"iam:PassedToService": "codedeploy.amazonaws.com"}, True),
        ("iam:PassRole", CODEDEPLOY_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, False),
        (
            "iam:PassRole",
            f"role/{STACK}-CreateTaskFunctionRole-AbC1",
            {"iam:PassedToService": "codedeploy.amazonaws.com"},
            False,
        ),
        # The stack's CodeDeploy application, its deployment groups and their deployments.
        ("codedeploy:CreateApplication", f"application:{APPLICATION}", {}, True),
        (
            "codedeploy:DeleteApplication",
            "application:tasks-api-staging-ServerlessDeploymentApplication-AbC1",
            {},
            False,
        ),
        (
            "codedeploy:CreateDeploymentGroup",
            f"deploymentgroup:{APPLICATION}/{STACK}-CreateTaskFunctionDeploymentGroup-AbC1",
            {},
            True,
        ),
        (
            "codedeploy:CreateDeployment",
            f"deploymentgroup:{APPLICATION}/{STACK}-HealthFunctionDeploymentGroup-AbC1",
            {},
            True,
        ),
        (
            "codedeploy:GetDeployment",
            f"deploymentgroup:{APPLICATION}/{STACK}-HealthFunctionDeploymentGroup-AbC1",
            {},
            True,
        ),
        ("codedeploy:CreateDeployment", "deploymentgroup:other-app/other-group", {}, False),
        (
            "codedeploy:GetDeploymentConfig",
            "deploymentconfig:CodeDeployDefault.LambdaCanary10Percent5Minutes",
            {},
            True,
        ),
        ("codedeploy:GetDeploymentConfig", "deploymentconfig:CodeDeployDefault.OneAtATime", {}, False),
    ],
)
def test_the_execution_role_on_named_resources(
    action: str, resource: str, context: dict[str, str], expected: bool
) -> None:
    service = action.split(":", maxsplit=1)[0]
    arn = {
        "lambda": f"arn:aws:lambda:{REGION}:{ACCOUNT}:{resource}",
        "iam": f"arn:aws:iam::{ACCOUNT}:{resource}",
        "logs": f"arn:aws:logs:{REGION}:{ACCOUNT}:{resource}",
        "cloudwatch": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:{resource}"
        if resource.startswith("alarm:")
        else f"arn:aws:cloudwatch::{ACCOUNT}:{resource}",
        "events": f"arn:aws:events:{REGION}:{ACCOUNT}:{resource}",
        "s3": f"arn:aws:s3:::{BUCKET}/{resource}",
        "codedeploy": f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:{resource}",
    }[service]
    assert allowed(statements("CloudFormationExecutionRole"), action, arn, context) is expected


def test_the_named_resources_of_the_api_template_are_those_the_role_reaches() -> None:
    # Names the API template sets itself (the rest CloudFormation derives from the stack's name).
    template = load_template()
    assert template["Resources"]["TasksCoreLayer"]["Properties"]["LayerName"] == {"Fn::Sub": "tasks-core-${Stage}"}
    dashboard = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardName"]
    assert dashboard == {"Fn::Sub": "${AWS::StackName}-${AWS::Region}"}
    # Besides them, only the CodeDeploy pre-traffic hook has a name of its own (SAM's CodeDeploy
    # service role invokes only CodeDeployHook_* functions), and the role reaches it by that name.
    # CloudFormation names everything else <stack>-<id>-<suffix>.
    name_key = {
        "AWS::Lambda::Function": "FunctionName",
        "AWS::IAM::Role": "RoleName",
        "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::CloudWatch::Alarm": "AlarmName",
        "AWS::Events::Rule": "Name",
        "AWS::CodeDeploy::Application": "ApplicationName",
        "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
    }
    for configuration in API_CONFIGURATIONS:
        resources = translated({**configuration, "Stage": "prod"})["Resources"]
        named = {
            logical_id: resource["Properties"][name_key[resource["Type"]]]
            for logical_id, resource in resources.items()
            if name_key.get(resource["Type"]) in resource.get("Properties", {})
        }
        assert named == {"PreTrafficCheckFunction": HOOK}
    policy = statements("CloudFormationExecutionRole")
    for action in ("lambda:CreateFunction", "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction"):
        assert allowed(policy, action, hook_arn("prod")), action
    # Another stage's hook is that stage's role's, even when its Stage begins with this one's.
    for stage in ("staging", "prod-eu"):
        other_stage = {**PARAMETERS, "Stage": stage, "ApiStackName": f"tasks-api-{stage}"}
        assert not allowed(policy, "lambda:CreateFunction", hook_arn(stage))
        assert allowed(statements("CloudFormationExecutionRole", other_stage), "lambda:CreateFunction", hook_arn(stage))


def hook_arn(stage: str) -> str:
    """The ARN of the API template's pre-traffic hook for a stage, by the name the template gives it."""
    hook = translated({**API_CONFIGURATIONS[0], "Stage": stage})["Resources"]["PreTrafficCheckFunction"]
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{hook['Properties']['FunctionName']}"


def test_the_deployment_configs_are_those_deployment_type_allows() -> None:
    # The deployment groups name CodeDeployDefault.Lambda<DeploymentType>; the role reads exactly the
    # configurations DeploymentType allows.
    template = load_template()
    group = translated(API_CONFIGURATIONS[0])["Resources"]["HealthFunctionDeploymentGroup"]["Properties"]
    default_type = template["Parameters"]["DeploymentType"]["Default"]
    assert group["DeploymentConfigName"] == {
        "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": default_type}]
    }
    granted = {
        resource.split(":deploymentconfig:", 1)[1]
        for statement in statements("CloudFormationExecutionRole")
        if "codedeploy:GetDeploymentConfig" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    allowed_types = template["Parameters"]["DeploymentType"]["AllowedValues"]
    assert granted == {f"CodeDeployDefault.Lambda{deployment_type}" for deployment_type in allowed_types}


def test_the_migrations_custom_resource_can_be_invoked() -> None:
    # CloudFormation invokes the function behind Custom::DatabaseMigrations with the role's rights.
    resources = translated(API_CONFIGURATIONS[0])["Resources"]
    [custom] = [value for value in resources.values() if value["Type"].startswith("Custom::")]
    assert custom["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-MigrateFunction-AbC1"
    assert allowed(statements("CloudFormationExecutionRole"), "lambda:InvokeFunction", function)


def test_the_artifacts_bucket_is_private_encrypted_and_tls_only() -> None:
    resources = resolved()
    bucket = resources["ArtifactsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [deny] = resources["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
