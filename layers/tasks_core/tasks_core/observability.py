"""Logs, traces and metrics: the Powertools instances and the wrapper every function uses."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

# Service name, log level and namespace come from POWERTOOLS_* variables (template Globals);
# the namespace has a default so a handler run outside the template still flushes its metrics.
DEFAULT_METRICS_NAMESPACE = "TasksApi"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE)

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def lambda_entrypoint(resolver: APIGatewayHttpResolver, operation: str) -> LambdaHandler:
    """The function's `lambda_handler`: the resolver under Logger, Tracer and Metrics.

    Logs are JSON with the API Gateway request id as correlation id; each invocation adds one
    to the metric named after the operation (and ColdStart on a cold start).
    """

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name=operation, unit=MetricUnit.Count, value=1)
        return resolver.resolve(event, context)

    return cast(LambdaHandler, lambda_handler)
