"""Logs and metrics: the Powertools instances and the wrapper every function uses.

Traces come from Lambda itself (`Tracing: Active` in the template records every invocation's
segment: init, invocation, overhead). Powertools Tracer is not used: it imports the X-Ray SDK
and botocore, measured at ~1 s of a 1.9 s cold start and 20 MiB of the layer, and costs
100-190 us a call even with tracing off (bench/README.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .deadline import InvocationTimeLimit

# Service name, log level and namespace come from POWERTOOLS_* variables (template Globals);
# the namespace has a default so a handler run outside the template still flushes its metrics.
DEFAULT_METRICS_NAMESPACE = "TasksApi"

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE)

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def lambda_entrypoint(resolver: APIGatewayHttpResolver, operation: str) -> LambdaHandler:
    """The function's `lambda_handler`: the resolver under Logger and Metrics.

    Logs are JSON with the API Gateway request id as correlation id; each invocation adds one
    to the metric named after the operation (and ColdStart on a cold start). Database calls end
    before the invocation's time does, so a database that does not answer is a 503, not a
    timeout.
    """

    @logger.inject_lambda_context
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # The request id read directly: Powertools' JMESPath correlation path costs ~25 us a call.
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        metrics.add_metric(name=operation, unit=MetricUnit.Count, value=1)
        with InvocationTimeLimit(context.get_remaining_time_in_millis()):
            return resolver.resolve(event, context)

    return cast(LambdaHandler, lambda_handler)
