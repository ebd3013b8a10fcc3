"""The metrics the functions emit (EMF lines on stdout): ColdStart once per execution environment,
and nothing per invocation that Lambda's own Invocations metric already counts (issue 10).
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.fresh_process import invoke_in_fresh_process_with_output, load_event


def _metrics(printed: list[str]) -> list[dict[str, Any]]:
    """The EMF documents among the printed lines."""
    documents = [json.loads(line) for line in printed if line.startswith("{")]
    return [document for document in documents if "_aws" in document]


def _names(document: dict[str, Any]) -> list[str]:
    return [metric["Name"] for block in document["_aws"]["CloudWatchMetrics"] for metric in block["Metrics"]]


def test_cold_start_is_counted_once_per_environment(database_url: str) -> None:
    event = load_event("get_task.json")
    # A user no other test writes to: each call is the same 404, whatever ran before in this database.
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/users/metrics-user/tasks/1"
    event["pathParameters"]["user_id"] = "metrics-user"
    calls = [("GetTaskFunction", event)] * 3
    # As the template sets them (Globals).
    env = {
        "DATABASE_URL": database_url,
        "POWERTOOLS_METRICS_NAMESPACE": "TasksApiTest",
        "POWERTOOLS_SERVICE_NAME": "tasks-api",
    }
    outcomes, printed = invoke_in_fresh_process_with_output(calls, env)
    assert [outcome["response"]["statusCode"] for outcome in outcomes] == [404, 404, 404]
    [document] = _metrics(printed)
    assert _names(document) == ["ColdStart"]
    assert document["ColdStart"] == [1.0]
    [block] = document["_aws"]["CloudWatchMetrics"]
    assert block["Namespace"] == "TasksApiTest"
    assert sorted(block["Dimensions"][0]) == ["function_name", "operation", "service"]
    assert document["function_name"] == "GetTaskFunction"
    assert (document["operation"], document["service"]) == ("GetTask", "tasks-api")


def test_broken_settings_still_answer_in_the_contract_shape(database_url: str) -> None:
    # An invalid setting is the request's 500 (its cause logged), and ColdStart still goes out.
    env = {"DATABASE_URL": database_url, "RETRY_AFTER_SECONDS": "not a number"}
    [outcome], printed = invoke_in_fresh_process_with_output([("GetTaskFunction", load_event("get_task.json"))], env)
    assert outcome["response"]["statusCode"] == 500
    assert json.loads(outcome["response"]["body"])["code"] == "internal_error"
    [document] = _metrics(printed)
    assert _names(document) == ["ColdStart"]
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TasksApi"
