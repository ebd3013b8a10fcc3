"""Gradual deployments (docs/deployments.md), as CloudFormation receives them after the transforms.

Every API function publishes a version on each change and CodeDeploy moves its `live` alias to it
as DeploymentType says, after the PreTraffic hook, under the rollback alarms; the HTTP API
invokes the aliases. The template is translated by tests/template/sam.py, with the code folders
"packaged" into moto's S3 as tests/template/test_stack.py does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.model.preferences.deployment_preference_collection import CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST

from local.template import load_functions, load_template
from tests.support.contract import API_FUNCTIONS
from tests.template.sam import ACCOUNT, REGION, transformed
from tests.template.test_stack import BUCKET, IAM_MODE, SECRET_MODE, STACK_NAME, URL_MODE, packaged
from tools.params import load_stage_configs

HOOK = "PreTrafficCheckFunction"
HOOK_VARIABLES = {
    "CreateTaskFunction": "CREATE_TASK_VERSION",
    "ListTasksFunction": "LIST_TASKS_VERSION",
    "GetTaskFunction": "GET_TASK_VERSION",
    "UpdateTaskFunction": "UPDATE_TASK_VERSION",
    "DeleteTaskFunction": "DELETE_TASK_VERSION",
    "HealthFunction": "HEALTH_VERSION",
}
TEMPLATE = load_template()


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto's S3 with the bucket the code folders are 'packaged' into."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def translate(parameters: dict[str, str], s3: Any, layer_key: str | None = None) -> dict[str, Any]:
    """The template as CloudFormation creates it; layer_key stands for another layer build."""
    template = packaged(load_template(), s3)
    if layer_key is not None:
        template["Resources"]["TasksCoreLayer"]["Properties"]["ContentUri"] = f"s3://{BUCKET}/{layer_key}"
    return transformed(template, parameters, STACK_NAME)


@pytest.fixture(scope="module")
def iam_stack(s3: Any) -> dict[str, Any]:
    """The iam mode's stack (VPC, JWT authorizer), DeploymentType from IAM_MODE: the default."""
    return translate(IAM_MODE, s3)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by logical id."""
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


def version_of(template: dict[str, Any], function: str) -> str:
    """The logical id of the one version SAM publishes for a function."""
    [version] = [
        key
        for key, value in of_type(template, "AWS::Lambda::Version").items()
        if value["Properties"]["FunctionName"] == {"Ref": function}
    ]
    return version


def versions(template: dict[str, Any]) -> dict[str, str]:
    """Each API function's version logical id (its name carries the hash of what it publishes)."""
    return {function: version_of(template, function) for function in API_FUNCTIONS}


# --- aliases and the API


def test_every_api_function_has_a_live_alias_on_a_version_kept_for_rollback(iam_stack: dict[str, Any]) -> None:
    aliases = of_type(iam_stack, "AWS::Lambda::Alias")
    assert set(aliases) == {f"{function}Aliaslive" for function in API_FUNCTIONS}
    for function in API_FUNCTIONS:
        alias = aliases[f"{function}Aliaslive"]["Properties"]
        version = version_of(iam_stack, function)
        assert alias == {
            "Name": "live",
            "FunctionName": {"Ref": function},
            "FunctionVersion": {"Fn::GetAtt": [version, "Version"]},
        }
        # An older version stays when a newer one replaces it: CodeDeploy rolls back to it.
        assert iam_stack["Resources"][version]["DeletionPolicy"] == "Retain"
    # The other functions are invoked by CloudFormation, EventBridge and CodeDeploy: no alias.
    functions = set(of_type(iam_stack, "AWS::Lambda::Function"))
    assert functions - set(API_FUNCTIONS) == {"MigrateFunction", "PurgeIdempotencyKeysFunction", HOOK}
    assert len(of_type(iam_stack, "AWS::Lambda::Version")) == len(API_FUNCTIONS)


def test_the_http_api_invokes_the_aliases_and_may_invoke_nothing_else(iam_stack: dict[str, Any]) -> None:
    body = iam_stack["Resources"]["TasksApi"]["Properties"]["Body"]
    serving = {(route.method, route.path): route.function for route in _routes()}
    integrations = {
        (method.upper(), path): operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    assert set(integrations) == set(serving)
    for route, uri in integrations.items():
        # ${<Function>Aliaslive} in a Sub is the alias's ARN.
        assert uri.endswith(f"/functions/${{{serving[route]}Aliaslive}}/invocations"), route
    permissions = of_type(iam_stack, "AWS::Lambda::Permission")
    from_the_api = {
        key: value["Properties"]
        for key, value in permissions.items()
        if value["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    assert len(from_the_api) == len(serving)
    for permission in from_the_api.values():
        assert permission["FunctionName"] in [{"Ref": f"{function}Aliaslive"} for function in API_FUNCTIONS]


# --- CodeDeploy: the type, the hook, the alarms


@pytest.mark.parametrize("deployment_type", ["AllAtOnce", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute"])
def test_each_deployment_group_shifts_traffic_as_the_parameter_says(s3: Any, deployment_type: str) -> None:
    template = translate({**SECRET_MODE, "DeploymentType": deployment_type}, s3)
    groups = of_type(template, "AWS::CodeDeploy::DeploymentGroup")
    assert set(groups) == {f"{function}DeploymentGroup" for function in API_FUNCTIONS}
    for group in groups.values():
        properties = group["Properties"]
        assert properties["DeploymentConfigName"] == {
            "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": deployment_type}]
        }
        assert properties["ApplicationName"] == {"Ref": "ServerlessDeploymentApplication"}
        assert properties["AutoRollbackConfiguration"] == {
            "Enabled": True,
            "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"],
        }


def test_the_parameter_offers_codedeploys_predefined_lambda_configurations() -> None:
    # SAM turns these names, and only these, into CodeDeployDefault.Lambda<name>.
    parameter = TEMPLATE["Parameters"]["DeploymentType"]
    assert sorted(parameter["AllowedValues"]) == sorted(CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST)
    assert parameter["Default"] == "Canary10Percent5Minutes"  # a stage that sets nothing gets the careful one


def test_stages_deploy_all_at_once_but_staging_and_prod_with_a_canary() -> None:
    types = {config.environment: config.parameters.get("DeploymentType") for config in load_stage_configs()}
    canary = "Canary10Percent5Minutes"
    assert types == {"default": "AllAtOnce", "dev": "AllAtOnce", "staging": canary, "prod": canary}


def test_the_hook_runs_before_any_traffic_moves(iam_stack: dict[str, Any]) -> None:
    for function in API_FUNCTIONS:
        policy = iam_stack["Resources"][f"{function}Aliaslive"]["UpdatePolicy"]
        assert policy == {
            "CodeDeployLambdaAliasUpdate": {
                "ApplicationName": {"Ref": "ServerlessDeploymentApplication"},
                "DeploymentGroupName": {"Ref": f"{function}DeploymentGroup"},
                "BeforeAllowTrafficHook": {"Ref": HOOK},
            }
        }


def test_the_hook_is_named_for_codedeploys_role_and_deploys_all_at_once_itself(iam_stack: dict[str, Any]) -> None:
    hook = iam_stack["Resources"][HOOK]["Properties"]
    # SAM's CodeDeploy role has AWSCodeDeployRoleForLambda, whose lambda:InvokeFunction names
    # arn:aws:lambda:*:*:function:CodeDeployHook_* only.
    assert hook["FunctionName"] == "CodeDeployHook_tasks-api-test-pre-traffic"
    role = iam_stack["Resources"]["CodeDeployServiceRole"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"]
    assert f"{HOOK}DeploymentGroup" not in iam_stack["Resources"]
    assert not [key for key in iam_stack["Resources"] if key.startswith(f"{HOOK}Version")]
    # At most one at a time: CodeDeploy's invocations for the six groups wait in Lambda's queue.
    assert hook["ReservedConcurrentExecutions"] == 1
    assert hook["Timeout"] == 300


def test_the_hook_runs_outside_the_vpc_and_without_the_database_url(s3: Any, iam_stack: dict[str, Any]) -> None:
    # The API functions' subnets reach the proxy, not the Lambda and CodeDeploy APIs.
    functions = iam_stack["Resources"]
    assert functions["CreateTaskFunction"]["Properties"]["VpcConfig"]["Fn::If"][0] == "UseVpc"
    assert functions[HOOK]["Properties"]["VpcConfig"] == {"SubnetIds": [], "SecurityGroupIds": []}
    url_mode = translate(URL_MODE, s3)["Resources"]
    assert url_mode[HOOK]["Properties"]["Environment"]["Variables"]["DATABASE_URL"] == ""
    assert url_mode["CreateTaskFunction"]["Properties"]["Environment"]["Variables"]["DATABASE_URL"] != ""


def test_the_hook_is_told_each_new_version(iam_stack: dict[str, Any]) -> None:
    variables = iam_stack["Resources"][HOOK]["Properties"]["Environment"]["Variables"]
    for function, variable in HOOK_VARIABLES.items():
        assert variables[variable] == {"Ref": version_of(iam_stack, function)}  # a version's Ref is its ARN
    assert variables["AUTH_USER_ID_CLAIM"] == {"Ref": "UserIdClaim"}  # the claim its events carry


def test_the_hooks_role_allows_exactly_what_it_does(iam_stack: dict[str, Any]) -> None:
    hook = iam_stack["Resources"][HOOK]["Properties"]
    assert hook["Role"] == {"Fn::GetAtt": ["PreTrafficCheckRole", "Arn"]}
    role = iam_stack["Resources"]["PreTrafficCheckRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert "ManagedPolicyArns" not in role
    [policy] = role["Policies"]
    # SAM CLI's local LanguageExtensions flattens a Sub that names a resource into a string (see
    # tests/template/cloudformation.py); the names in it are checked against the resources below.
    groups = [
        f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:${{ServerlessDeploymentApplication}}/${{{function}DeploymentGroup}}"
        for function in API_FUNCTIONS
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": ["PreTrafficCheckLogGroup", "Arn"]},
        },
        # X-Ray's actions take no resource.
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [{"Ref": version_of(iam_stack, function)} for function in API_FUNCTIONS],
        },
        {"Effect": "Allow", "Action": "codedeploy:PutLifecycleEventHookExecutionStatus", "Resource": groups},
    ]
    assert hook["LoggingConfig"]["LogGroup"] == {"Ref": "PreTrafficCheckLogGroup"}
    named = set(re.findall(r"\$\{(\w+)\}", json.dumps(groups)))
    assert iam_stack["Resources"]["ServerlessDeploymentApplication"]["Type"] == "AWS::CodeDeploy::Application"
    assert named - {"ServerlessDeploymentApplication"} == set(of_type(iam_stack, "AWS::CodeDeploy::DeploymentGroup"))


def test_the_source_names_the_deployment_groups_for_cloudformation() -> None:
    # What CloudFormation's own LanguageExtensions passes on: Subs it resolves when it deploys.
    [*_, codedeploy] = TEMPLATE["Resources"]["PreTrafficCheckRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    assert codedeploy["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:"
            f"${{ServerlessDeploymentApplication}}/${{{function}DeploymentGroup}}"
        }
        for function in API_FUNCTIONS
    ]


def test_each_deployment_rolls_back_on_its_functions_errors_and_the_apis_5xx(iam_stack: dict[str, Any]) -> None:
    alarms = of_type(iam_stack, "AWS::CloudWatch::Alarm")
    for function in API_FUNCTIONS:
        operation = function.removesuffix("Function")
        group = iam_stack["Resources"][f"{function}DeploymentGroup"]["Properties"]
        assert group["AlarmConfiguration"] == {
            "Enabled": True,
            "Alarms": [{"Name": {"Ref": "RollbackApi5xxAlarm"}}, {"Name": {"Ref": f"Rollback{operation}ErrorsAlarm"}}],
        }
        alarm = alarms[f"Rollback{operation}ErrorsAlarm"]["Properties"]
        # Lambda's metrics of an alias's invocations, by the version that ran them: the new one.
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
        dimensions = {dimension["Name"]: dimension["Value"] for dimension in alarm["Dimensions"]}
        assert dimensions == {
            "FunctionName": {"Ref": function},
            "Resource": f"${{{function}}}:live",  # a Sub, flattened by the local LanguageExtensions
            "ExecutedVersion": {"Fn::GetAtt": [version_of(iam_stack, function), "Version"]},
        }
        source = {
            d["Name"]: d["Value"]
            for d in TEMPLATE["Resources"][f"Rollback{operation}ErrorsAlarm"]["Properties"]["Dimensions"]
        }
        assert source["Resource"] == {"Fn::Sub": f"${{{function}}}:live"}
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"]) == (60, 1, 0)
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert "AlarmActions" not in alarm
    api = alarms["RollbackApi5xxAlarm"]["Properties"]
    stats = {metric["Id"]: metric["MetricStat"] for metric in api["Metrics"] if "MetricStat" in metric}
    for metric_id, name in (("errors", "5xx"), ("requests", "Count")):
        assert stats[metric_id]["Metric"] == {
            "Namespace": "AWS/ApiGateway",
            "MetricName": name,
            "Dimensions": [{"Name": "ApiId", "Value": {"Ref": "TasksApi"}}, {"Name": "Stage", "Value": "$default"}],
        }
        assert (stats[metric_id]["Period"], stats[metric_id]["Stat"]) == (60, "Sum")
    [rate] = [metric for metric in api["Metrics"] if "Expression" in metric]
    assert rate["Expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert (api["Threshold"], api["ComparisonOperator"], api["EvaluationPeriods"]) == (1, "GreaterThanThreshold", 1)


# --- what publishes a new version


def test_a_new_layer_publishes_every_api_function_anew(s3: Any, iam_stack: dict[str, Any]) -> None:
    rebuilt = versions(translate(IAM_MODE, s3, layer_key="another-layer-build"))
    before = versions(iam_stack)
    assert all(rebuilt[function] != before[function] for function in API_FUNCTIONS)


def test_the_same_template_publishes_nothing_new(s3: Any, iam_stack: dict[str, Any]) -> None:
    assert versions(translate(IAM_MODE, s3)) == versions(iam_stack)
    # Neither does a setting that is no function's: how traffic moves, or the API's throttling.
    assert versions(translate({**IAM_MODE, "DeploymentType": "AllAtOnce", "ThrottlingRateLimit": "99"}, s3)) == (
        versions(iam_stack)
    )


def fingerprint_parameters() -> set[str]:
    """The parameters SETTINGS_FINGERPRINT is made of."""
    value = TEMPLATE["Resources"]["CreateTaskFunction"]["Properties"]["Environment"]["Variables"][
        "SETTINGS_FINGERPRINT"
    ]
    text, variables = value["Fn::Sub"]
    names = {name for name in re.findall(r"\$\{([^}]+)\}", text) if name not in variables}
    return names | set(re.findall(r'\{"Ref": "(\w+)"\}', json.dumps(variables)))


def version_settings_parameters() -> set[str]:
    """Parameters that the Globals' version-level settings (variables, VPC, ...) depend on.

    Reserved concurrency is the function's, not a version's: a change of it must not publish.
    """
    settings = {
        key: value for key, value in TEMPLATE["Globals"]["Function"].items() if key != "ReservedConcurrentExecutions"
    }
    text = json.dumps(settings)
    conditions = set(re.findall(r'"Fn::If": \["(\w+)"', text))
    while True:
        more = set(re.findall(r'"Condition": "(\w+)"', json.dumps([TEMPLATE["Conditions"][c] for c in conditions])))
        if more <= conditions:
            break
        conditions |= more
    text += json.dumps([TEMPLATE["Conditions"][name] for name in conditions])
    referenced = set(re.findall(r'"Ref": "(\w+)"', text)) | set(re.findall(r"\$\{(\w+)\}", text))
    return referenced & set(TEMPLATE["Parameters"])


def test_the_fingerprint_holds_every_parameter_of_a_versions_settings_but_the_secret_ones() -> None:
    secret = {name for name, spec in TEMPLATE["Parameters"].items() if spec.get("NoEcho")}
    assert version_settings_parameters() - secret == fingerprint_parameters()
    assert "LogLevel" in fingerprint_parameters()  # the check itself sees the Globals
    assert not fingerprint_parameters() & secret  # never resolved into the processed template
    for function in API_FUNCTIONS[1:]:
        environment = TEMPLATE["Resources"][function]["Properties"]["Environment"]
        assert environment == TEMPLATE["Resources"]["CreateTaskFunction"]["Properties"]["Environment"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LogLevel", "DEBUG"),
        ("AuthEnabled", "false"),
        ("UserIdClaim", "username"),
        ("DatabaseAuthMode", "secret"),
        ("ProxyEndpoint", "other.proxy-abc123.eu-west-1.rds.amazonaws.com"),
        ("SubnetIds", "subnet-ccc"),
        ("IdempotencyKeyTtlSeconds", "3600"),
    ],
)
def test_a_new_setting_publishes_every_api_function_anew(
    s3: Any, iam_stack: dict[str, Any], name: str, value: str
) -> None:
    # Without it the alias would keep running the old version, with the old settings: a stage
    # that turns AUTH_ENABLED on would not check tokens' users (serverless-application-model #3820).
    parameters = {**IAM_MODE, name: value}
    if value == "secret":
        parameters["DatabaseSecretName"] = "tasks/db/app"
    changed = versions(translate(parameters, s3))
    before = versions(iam_stack)
    assert all(changed[function] != before[function] for function in API_FUNCTIONS)


def test_the_local_runtime_reads_the_aliased_functions_as_before() -> None:
    functions = load_functions(parameters={"DatabaseUrl": "postgresql://db"})
    assert {name for name, function in functions.items() if function.routes} == set(API_FUNCTIONS)
    assert functions[HOOK].routes == []
    assert functions["CreateTaskFunction"].environment["SETTINGS_FINGERPRINT"].startswith("DatabaseAuthMode=url ")
    assert functions[HOOK].environment["DATABASE_URL"] == ""


def _routes() -> list[Any]:
    return [route for function in load_functions().values() for route in function.routes]
