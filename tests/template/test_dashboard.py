"""The CloudWatch dashboard and the pinned-connections alarm, as CloudFormation would create them.

The dashboard body is a `!Sub` of JSON: each test resolves it after the template's transforms
and reads it as CloudWatch would, so a stray comma, a missing function or a metric of the wrong
name fails here rather than at deploy time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import load_functions
from tests.template.sam import resolver, translated

PROXY = {"ProxyName": "tasks-api-test", "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms"}
NO_PROXY: dict[str, str] = {}
LAMBDA_METRICS = {"Duration", "Errors", "Throttles", "ConcurrentExecutions"}
API_METRICS = {"Count", "4xx", "5xx", "Latency", "IntegrationLatency"}
PROXY_METRICS = {
    "ClientConnections",
    "DatabaseConnections",
    "DatabaseConnectionsCurrentlySessionPinned",
    "QueryDatabaseResponseLatency",
}


def dashboard(parameters: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard's body as CloudWatch reads it, and the translated template."""
    template = translated(parameters)
    resources = template["Resources"]
    [logical_id] = [key for key, value in resources.items() if value["Type"] == "AWS::CloudWatch::Dashboard"]
    resolving = resolver(template, parameters)
    text = resources[logical_id]["Properties"]["DashboardBody"]
    # SAM CLI's local LanguageExtensions substitutes what it knows (parameters, the variable map)
    # and keeps ${Resource} placeholders in a plain string; CloudFormation substitutes the rest.
    if isinstance(text, str):
        text = {"Fn::Sub": text}
    body: dict[str, Any] = json.loads(resolving.resolve(text))
    return body, template


def metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    """Every metric row of every graph (math expressions left out)."""
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
        if isinstance(row[0], str)
    ]


def dimensions(row: list[Any]) -> dict[str, str]:
    """A metric row's dimensions: namespace, name, then name/value pairs, then maybe options."""
    pairs = [item for item in row[2:] if isinstance(item, str)]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


@pytest.mark.parametrize("parameters", [PROXY, NO_PROXY], ids=["proxy", "no-proxy"])
def test_every_function_has_each_lambda_metric(parameters: dict[str, str]) -> None:
    body, _ = dashboard(parameters)
    functions = set(load_functions())
    shown: dict[str, set[str]] = {}
    for row in metric_rows(body):
        if row[0] == "AWS/Lambda":
            # A Ref of a function is its name; resolved here to its logical id.
            shown.setdefault(row[1], set()).add(dimensions(row)["FunctionName"])
    assert set(shown) == LAMBDA_METRICS
    for metric, names in shown.items():
        assert names == functions, metric
    stats = {
        (widget["properties"]["metrics"][0][1], widget["properties"].get("stat"))
        for widget in body["widgets"]
        if widget["type"] == "metric" and widget["properties"]["metrics"][0][0] == "AWS/Lambda"
    }
    assert {("Duration", "p50"), ("Duration", "p99"), ("Errors", "Sum"), ("Throttles", "Sum")} <= stats
    assert ("ConcurrentExecutions", "Maximum") in stats


@pytest.mark.parametrize("parameters", [PROXY, NO_PROXY], ids=["proxy", "no-proxy"])
def test_the_http_apis_answers_and_latencies(parameters: dict[str, str]) -> None:
    body, template = dashboard(parameters)
    [api] = [key for key, value in template["Resources"].items() if value["Type"] == "AWS::ApiGatewayV2::Api"]
    rows = [row for row in metric_rows(body) if row[0] == "AWS/ApiGateway"]
    assert {row[1] for row in rows} == API_METRICS
    for row in rows:
        # The metrics of the stage that serves the API: the one the alarms read too.
        assert dimensions(row) == {"ApiId": api, "Stage": "$default"}
    latency_stats = {(row[1], row[-1]["stat"]) for row in rows if row[1].endswith("Latency")}
    assert latency_stats == {(m, s) for m in ("Latency", "IntegrationLatency") for s in ("p50", "p99")}


def test_proxy_widgets_and_alarm_when_the_proxy_is_named() -> None:
    body, template = dashboard(PROXY)
    rows = [row for row in metric_rows(body) if row[0] == "AWS/RDS"]
    assert {row[1] for row in rows} >= PROXY_METRICS
    assert all(dimensions(row) == {"ProxyName": "tasks-api-test"} for row in rows)
    alarm = template["Resources"]["PinnedConnectionsAlarm"]
    assert alarm["Condition"] == "HasProxyName"
    properties = resolver(template, PROXY).resolve(alarm["Properties"])
    assert properties["MetricName"] == "DatabaseConnectionsCurrentlySessionPinned"
    assert properties["Dimensions"] == [{"Name": "ProxyName", "Value": "tasks-api-test"}]
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanThreshold", 0)
    # "Stays above 0": every one of the periods evaluated must breach, not just one.
    assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] >= 3
    assert properties["AlarmActions"] == [PROXY["AlarmTopicArn"]]
    [alarms] = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    assert "arn:PinnedConnectionsAlarm" in alarms["properties"]["alarms"]


def test_without_a_proxy_name_the_dashboard_says_why_and_there_is_no_pinned_alarm() -> None:
    body, template = dashboard(NO_PROXY)
    assert not [row for row in metric_rows(body) if row[0] == "AWS/RDS"]
    notes = [widget["properties"]["markdown"] for widget in body["widgets"] if widget["type"] == "text"]
    assert any("ProxyName" in note and "RDS Proxy" in note for note in notes)
    conditions = resolver(template, NO_PROXY).conditions
    assert conditions["HasProxyName"] is False  # CloudFormation leaves PinnedConnectionsAlarm out
    [alarms] = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    assert "arn:PinnedConnectionsAlarm" not in alarms["properties"]["alarms"]


@pytest.mark.parametrize("parameters", [PROXY, NO_PROXY], ids=["proxy", "no-proxy"])
def test_the_alarm_widget_shows_every_alarm_of_the_stack(parameters: dict[str, str]) -> None:
    body, template = dashboard(parameters)
    conditions = resolver(template, parameters).conditions
    alarms = {
        f"arn:{key}"
        for key, value in template["Resources"].items()
        if value["Type"] == "AWS::CloudWatch::Alarm" and conditions.get(value.get("Condition", ""), True)
    }
    [widget] = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    assert set(widget["properties"]["alarms"]) == alarms


@pytest.mark.parametrize("parameters", [PROXY, NO_PROXY], ids=["proxy", "no-proxy"])
def test_widgets_fit_the_grid_without_overlapping(parameters: dict[str, str]) -> None:
    body, _ = dashboard(parameters)
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        left, top, width, height = widget["x"], widget["y"], widget["width"], widget["height"]
        assert left >= 0
        assert left + width <= 24  # CloudWatch's grid is 24 columns wide
        area = {(x, y) for x in range(left, left + width) for y in range(top, top + height)}
        assert not area & cells, widget
        cells |= area
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "eu-west-1"
