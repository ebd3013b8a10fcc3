"""template.yaml deployed to moto's CloudFormation: what each function gets, and no more.

CloudFormation runs AWS::LanguageExtensions and the SAM transform before it creates anything;
here tests/template/sam.py does that, then moto creates the stack. What moto cannot create (the
HTTP API, the migrations custom resource, aliases and versions) is left out or stood in for
(tests/template/cloudformation.py); everything else is created and checked.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.template import PROJECT_ROOT, Resolver, load_template
from tests.support.contract import API_FUNCTIONS
from tests.template.cloudformation import deployable_in_moto
from tests.template.sam import ACCOUNT, REGION, transformed

# moto's CloudFormation has no alarms; they are checked in the template instead.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+Alarm")

STACK_NAME = "tasks-api-test"
BUCKET = "tasks-api-artifacts"

IAM_MODE = {
    "Stage": "test",
    "DatabaseAuthMode": "iam",
    "ProxyEndpoint": "tasks.proxy-abc123.eu-west-1.rds.amazonaws.com",
    "ProxyResourceId": "prx-0123456789abcdef0",
    "DatabaseUser": "tasks_app",
    "MigrationAuthMode": "iam",
    "MigrationDatabaseUser": "tasks_owner",
    "SubnetIds": "subnet-aaa,subnet-bbb",
    "SecurityGroupIds": "sg-123",
    "AuthEnabled": "true",
    "JwtIssuer": "https://issuer.example.com",
    "JwtAudience": "tasks-client",
    "ReservedConcurrency": "15",
}
SECRET_MODE = {
    "Stage": "test",
    "DatabaseAuthMode": "secret",
    "ProxyEndpoint": "tasks.proxy-abc123.eu-west-1.rds.amazonaws.com",
    "DatabaseSecretName": "tasks/db/app",
    "MigrationAuthMode": "secret",
    "MigrationSecretName": "rds!cluster-0123abcd",
}
URL_MODE = {
    "Stage": "test",
    "DatabaseAuthMode": "url",
    "DatabaseUrl": "postgresql://tasks_app@db.example.com/tasks",
    "MigrationAuthMode": "url",
    "MigrationDatabaseUrl": "postgresql://tasks_owner@db.example.com/tasks",
}


def zipped(folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            archive.write(path, path.relative_to(PROJECT_ROOT / folder))
    return buffer.getvalue()


def packaged(template: dict[str, Any], s3: Any) -> dict[str, Any]:
    """What `sam package` does: code folders become S3 objects."""
    template = copy.deepcopy(template)
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                s3.put_object(Bucket=BUCKET, Key=logical_id, Body=zipped(properties[key]))
                properties[key] = f"s3://{BUCKET}/{logical_id}"
    return template


def translate(parameters: dict[str, str], s3: Any) -> dict[str, Any]:
    """template.yaml packaged into moto's S3, then LanguageExtensions and the SAM transform."""
    return transformed(packaged(load_template(), s3), parameters, STACK_NAME)


def deployable(parameters: dict[str, str], s3: Any) -> dict[str, Any]:
    """The template as CloudFormation would create it, with moto's gaps left out or stood in for."""
    return deployable_in_moto(translate(parameters, s3))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield {
            "s3": s3,
            "cloudformation": boto3.client("cloudformation", region_name=REGION),
            "lambda": boto3.client("lambda", region_name=REGION),
            "iam": boto3.client("iam", region_name=REGION),
        }


def create_stack_from(aws: dict[str, Any], template: dict[str, Any], parameters: dict[str, str]) -> dict[str, str]:
    """Create the stack from a translated template; return physical ids by logical id."""
    cloudformation = aws["cloudformation"]
    cloudformation.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    summaries = cloudformation.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    return {summary["LogicalResourceId"]: summary["PhysicalResourceId"] for summary in summaries}


def role_policies(
    aws: dict[str, Any], template: dict[str, Any], physical: dict[str, str], logical_id: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """The managed policy ARNs of a function's role, and the statements it is allowed.

    moto's CloudFormation creates roles without attaching their managed policies, so the role is
    read from the template and each customer policy from what moto created for it.
    """
    role_id = template["Resources"][logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    arns: list[str] = []
    statements: list[dict[str, Any]] = []
    for entry in role.get("ManagedPolicyArns", []):
        if isinstance(entry, str):
            arns.append(entry)  # AWS managed: logs, X-Ray, VPC access
            continue
        arn = physical[entry["Ref"]]
        arns.append(arn)
        version = aws["iam"].get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = aws["iam"].get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        statements.extend(document["Statement"])
    for policy in role.get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    return arns, statements


def data_access(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements that reach the database: rds-db and Secrets Manager actions."""
    return [s for s in statements if any(a.startswith(("rds-db:", "secretsmanager:")) for a in _actions(s))]


def test_iam_mode_stack(aws: dict[str, Any]) -> None:
    template = deployable(IAM_MODE, aws["s3"])
    physical = create_stack_from(aws, template, IAM_MODE)
    # moto creates the layer but does not attach layers to functions: the wiring is checked in
    # the template CloudFormation receives.
    [layer_id] = [key for key, value in template["Resources"].items() if value["Type"] == "AWS::Lambda::LayerVersion"]
    layer = template["Resources"][layer_id]["Properties"]
    assert layer["LayerName"] == "tasks-core-test"
    assert layer["CompatibleRuntimes"] == ["python3.13"]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    assert len(aws["lambda"].list_layers()["Layers"]) == 1
    for logical_id in [*API_FUNCTIONS, "MigrateFunction"]:
        assert template["Resources"][logical_id]["Properties"]["Layers"] == [{"Ref": layer_id}]
        config = aws["lambda"].get_function(FunctionName=physical[logical_id])["Configuration"]
        assert config["Handler"] == "app.lambda_handler"
        assert config["Runtime"] == "python3.13"
        properties = template["Resources"][logical_id]["Properties"]
        assert properties["Architectures"] == ["arm64"]  # moto reports its default, x86_64
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert config["VpcConfig"]["SubnetIds"] == ["subnet-aaa", "subnet-bbb"]
        assert config["VpcConfig"]["SecurityGroupIds"] == ["sg-123"]
        environment = config["Environment"]["Variables"]
        assert environment["DB_AUTH_MODE"] == "iam"
        assert environment["DB_HOST"] == IAM_MODE["ProxyEndpoint"]
        assert environment["DB_NAME"] == "tasks"
        assert environment["AUTH_ENABLED"] == "true"
        assert environment["AUTH_USER_ID_CLAIM"] == "sub"
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "TasksApi"
        assert "DATABASE_URL" not in environment
        assert "DB_SECRET_ID" not in environment
        arns, statements = role_policies(aws, template, physical, logical_id)
        assert any(arn.endswith("service-role/AWSLambdaBasicExecutionRole") for arn in arns)
        assert any(arn.endswith("AWSXrayWriteOnlyAccess") for arn in arns)
        assert any(arn.endswith("AWSLambdaVPCAccessExecutionRole") for arn in arns)
        # Each function connects as one database user of the one proxy: the API functions as the
        # API's role, the migrations function as the owner.
        user = "tasks_owner" if logical_id == "MigrateFunction" else "tasks_app"
        assert environment["DB_USER"] == user
        assert data_access(statements) == [
            {
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:prx-0123456789abcdef0/{user}",
            }
        ]
        if logical_id == "MigrateFunction":
            assert environment["DB_APP_ROLE"] == "tasks_app"  # the role it creates
        else:
            assert "DB_APP_ROLE" not in environment
    for logical_id in API_FUNCTIONS:
        concurrency = aws["lambda"].get_function_concurrency(FunctionName=physical[logical_id])
        assert concurrency["ReservedConcurrentExecutions"] == 15


def test_secret_mode_stack(aws: dict[str, Any]) -> None:
    template = deployable(SECRET_MODE, aws["s3"])
    physical = create_stack_from(aws, template, SECRET_MODE)
    for logical_id in [*API_FUNCTIONS, "MigrateFunction"]:
        config = aws["lambda"].get_function(FunctionName=physical[logical_id])["Configuration"]
        environment = config["Environment"]["Variables"]
        assert environment["DB_AUTH_MODE"] == "secret"
        assert "DB_USER" not in environment
        assert environment["AUTH_ENABLED"] == "false"
        assert not config.get("VpcConfig", {}).get("SubnetIds")  # no subnets given: no VPC
        _, statements = role_policies(aws, template, physical, logical_id)
        # The API's role's secret for the API functions, the owner's for the migrations function.
        secret = "rds!cluster-0123abcd" if logical_id == "MigrateFunction" else "tasks/db/app"
        assert environment["DB_SECRET_ID"] == secret
        assert data_access(statements) == [
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}-??????",
            }
        ]


def test_url_mode_stack(aws: dict[str, Any]) -> None:
    template = deployable(URL_MODE, aws["s3"])
    physical = create_stack_from(aws, template, URL_MODE)
    assert "DatabaseAccessPolicy" not in physical  # their conditions are false: not created
    assert "MigrationDatabaseAccessPolicy" not in physical
    for logical_id in [*API_FUNCTIONS, "MigrateFunction"]:
        environment = aws["lambda"].get_function(FunctionName=physical[logical_id])["Configuration"]["Environment"]
        url = URL_MODE["MigrationDatabaseUrl" if logical_id == "MigrateFunction" else "DatabaseUrl"]
        assert environment["Variables"]["DB_AUTH_MODE"] == "url"
        assert environment["Variables"]["DATABASE_URL"] == url
        _, statements = role_policies(aws, template, physical, logical_id)
        assert data_access(statements) == []


def test_no_data_access_on_a_wildcard_resource(aws: dict[str, Any]) -> None:
    for parameters in (IAM_MODE, SECRET_MODE, URL_MODE):
        template = deployable(parameters, aws["s3"])
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::IAM::ManagedPolicy":
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                assert "*" not in json.dumps(statement["Resource"])


def test_auth_switch_puts_the_jwt_authorizer_on_task_routes_only(aws: dict[str, Any]) -> None:
    for auth, parameters in (("true", IAM_MODE), ("false", {**IAM_MODE, "AuthEnabled": "false"})):
        translated = translate(parameters, aws["s3"])
        body = translated["Resources"]["TasksApi"]["Properties"]["Body"]
        schemes = body.get("components", {}).get("securitySchemes", {})
        for path, operations in body["paths"].items():
            for method, operation in operations.items():
                security = operation.get("security", [])
                if auth == "false":
                    assert not [s for s in security if "JwtAuthorizer" in s], (path, method)
                elif path == "/health":
                    assert not [s for s in security if "JwtAuthorizer" in s]
                else:
                    assert {"JwtAuthorizer": []} in security, (path, method)
        if auth == "true":
            authorizer = schemes["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
            assert authorizer["type"] == "jwt"
            assert authorizer["jwtConfiguration"]["issuer"] == "https://issuer.example.com"
            assert authorizer["jwtConfiguration"]["audience"] == ["tasks-client"]
        else:
            assert "JwtAuthorizer" not in schemes


def test_operations_alarms_logs_and_access_logs(aws: dict[str, Any]) -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:tasks-alarms"
    template = translate({**SECRET_MODE, "AlarmTopicArn": topic, "LogRetentionDays": "90"}, aws["s3"])
    resources = template["Resources"]
    # Without a ProxyName there is no proxy to watch: PinnedConnectionsAlarm's Condition leaves it
    # out (tests/template/test_dashboard.py checks it with a proxy).
    alarms = {
        key: value["Properties"]
        for key, value in resources.items()
        if value["Type"] == "AWS::CloudWatch::Alarm" and value.get("Condition") != "HasProxyName"
    }
    # The rollback alarms (tests/template/test_deployments.py) stop a deploy rather than page.
    rollback = {name for name in alarms if name.startswith("Rollback")}
    assert set(alarms) - rollback == {
        "Api5xxRateAlarm",
        "FunctionErrorsAlarm",
        "FunctionThrottlesAlarm",
        "FunctionP99DurationAlarm",
    }
    for name, alarm in alarms.items():
        assert alarm.get("AlarmActions") == (None if name in rollback else [topic]), name
    metric_names = {
        metric["MetricStat"]["Metric"]["MetricName"]
        for alarm in alarms.values()
        for metric in alarm.get("Metrics", [])
        if "MetricStat" in metric
    }
    assert metric_names == {"5xx", "Count", "Errors", "Throttles", "Duration"}
    for logical_id in [*API_FUNCTIONS, "MigrateFunction"]:
        log_group = resources[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert int(resources[log_group]["Properties"]["RetentionInDays"]) == 90
    stage = next(value for value in resources.values() if value["Type"] == "AWS::ApiGatewayV2::Stage")
    access_logs = stage["Properties"]["AccessLogSettings"]
    assert json.loads(access_logs["Format"].replace("\n", ""))["requestId"] == "$context.requestId"
    log_groups = [value for value in resources.values() if value["Type"] == "AWS::Logs::LogGroup"]
    assert all(int(group["Properties"]["RetentionInDays"]) == 90 for group in log_groups)
    assert len(log_groups) == 10  # nine functions and the API's access log


def test_http_api_stage_throttles_every_route_and_the_budget_rule_reaches_cloudformation(
    aws: dict[str, Any],
) -> None:
    # moto has no ApiGatewayV2: the stage is checked as SAM hands it to CloudFormation.
    parameters = {**SECRET_MODE, "ThrottlingRateLimit": "120", "ThrottlingBurstLimit": "15"}
    translated = translate(parameters, aws["s3"])
    [stage] = [value for value in translated["Resources"].values() if value["Type"] == "AWS::ApiGatewayV2::Stage"]
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert (int(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"])) == (120, 15)
    assert "RouteSettings" not in stage["Properties"]
    defaults = translate(SECRET_MODE, aws["s3"])
    [stage] = [value for value in defaults["Resources"].values() if value["Type"] == "AWS::ApiGatewayV2::Stage"]
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert (int(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"])) == (50, 10)
    # CloudFormation evaluates Rules before it creates anything; SAM must pass them through.
    assert "ReservedConcurrencyFitsConnectionBudget" in translated["Rules"]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


# --- Rules: what CloudFormation refuses before it creates anything


def failed_rules(parameters: dict[str, str], path: Path = PROJECT_ROOT / "template.yaml") -> set[str]:
    """The template's Rules whose assertions fail for these parameters (and the defaults)."""
    template = load_template(path)
    resolver = Resolver(template, parameters)
    return {
        name
        for name, rule in template.get("Rules", {}).items()
        if resolver.resolve(rule.get("RuleCondition", True))
        and not all(resolver.resolve(assertion["Assert"]) for assertion in rule["Assertions"])
    }


@pytest.mark.parametrize(
    ("parameters", "refused"),
    [
        (IAM_MODE, set()),
        (SECRET_MODE, set()),
        (URL_MODE, set()),
        ({**IAM_MODE, "MigrationDatabaseUser": ""}, {"MigrationIamModeNeedsOwner"}),
        ({**IAM_MODE, "MigrationDatabaseUser": "tasks_app"}, {"MigrationIamModeNeedsOwner"}),  # the API's role
        ({**SECRET_MODE, "MigrationSecretName": ""}, {"MigrationSecretModeNeedsSecret"}),
        ({**URL_MODE, "MigrationDatabaseUrl": ""}, {"MigrationUrlModeNeedsUrl"}),
        ({**IAM_MODE, "MigrationAuthMode": "url", "MigrationDatabaseUrl": "postgresql://x"}, {"UrlModeForBoth"}),
        ({**URL_MODE, "MigrationAuthMode": "iam"}, {"UrlModeForBoth", "MigrationIamModeNeedsOwner"}),
        ({**IAM_MODE, "MigrationAuthMode": "secret"}, {"MigrationSecretModeNeedsSecret"}),
    ],
    ids=[
        "iam",
        "secret",
        "url",
        "iam-without-owner",
        "iam-owner-is-the-api-role",
        "secret-without-owner-secret",
        "url-without-owner-url",
        "api-iam-migrations-url",
        "api-url-migrations-iam",
        "migrations-secret-without-secret",
    ],
)
def test_rules_refuse_incomplete_database_access(parameters: dict[str, str], refused: set[str]) -> None:
    assert failed_rules(parameters) == refused


# --- infra/database.yaml: the proxy behind these parameters

DATABASE_STACK = PROJECT_ROOT / "infra" / "database.yaml"


def test_the_database_stack_keeps_the_owner_and_the_api_role_apart() -> None:
    assert failed_rules({"MasterUsername": "tasks_owner"}, DATABASE_STACK) == set()
    assert failed_rules({"MasterUsername": "tasks_app"}, DATABASE_STACK) == {"OwnerIsNotTheApiRole"}
    parameters = load_template(DATABASE_STACK)["Parameters"]
    assert "Default" not in parameters["MasterUsername"]  # changing it replaces the cluster


def test_the_proxy_uses_iam_end_to_end_for_the_api_role_and_the_secret_for_the_owner_only() -> None:
    resources = load_template(DATABASE_STACK)["Resources"]
    proxy = resources["Proxy"]["Properties"]
    assert proxy["DefaultAuthScheme"] == "IAM_AUTH"
    assert proxy["RequireTLS"] is True
    master_secret = {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
    assert proxy["Auth"] == [
        {
            "AuthScheme": "SECRETS",
            "SecretArn": master_secret,
            "IAMAuth": "REQUIRED",
            "ClientPasswordAuthType": "POSTGRES_SCRAM_SHA_256",
        }
    ]
    assert resources["DatabaseCluster"]["Properties"]["MasterUsername"] == {"Ref": "MasterUsername"}
    assert resources["DatabaseCluster"]["Properties"]["EnableIAMDatabaseAuthentication"] is True
    statements = [
        statement
        for policy in resources["ProxyRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": master_secret},
        {
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:"
                "${DatabaseCluster.DBClusterResourceId}/${DatabaseUser}"
            },
        },
    ]


def test_the_database_stacks_outputs_are_the_api_stacks_parameters() -> None:
    outputs = set(load_template(DATABASE_STACK)["Outputs"]) - {"DatabaseSecretArn"}
    assert outputs <= set(load_template()["Parameters"])
    assert {"DatabaseUser", "MigrationDatabaseUser", "ProxyResourceId", "ProxyEndpoint"} <= outputs


def test_expired_idempotency_keys_are_purged_hourly(aws: dict[str, Any]) -> None:
    template = deployable(IAM_MODE, aws["s3"])
    physical = create_stack_from(aws, template, IAM_MODE)
    resources = template["Resources"]
    [rule] = [value for value in resources.values() if value["Type"] == "AWS::Events::Rule"]
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["PurgeIdempotencyKeysFunction", "Arn"]}
    purge = aws["lambda"].get_function(FunctionName=physical["PurgeIdempotencyKeysFunction"])
    assert purge["Concurrency"]["ReservedConcurrentExecutions"] == 1
    for logical_id in [*API_FUNCTIONS, "PurgeIdempotencyKeysFunction"]:
        config = aws["lambda"].get_function(FunctionName=physical[logical_id])["Configuration"]
        assert str(config["Environment"]["Variables"]["IDEMPOTENCY_KEY_TTL_SECONDS"]) == "86400"
