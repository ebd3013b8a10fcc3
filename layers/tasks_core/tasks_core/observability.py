"""Logs and metrics: the Powertools instances and the wrapper every function uses.

Traces come from Lambda itself (`Tracing: Active` in the template records every invocation's
segment: init, invocation, overhead). Powertools Tracer is not used: it imports the X-Ray SDK
and botocore, measured at ~1 s of a 1.9 s cold start and 20 MiB of the layer, and costs
100-190 us a call even with tracing off (bench/README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from .deadline import InvocationTimeLimit
from .settings import Settings, get_settings

if TYPE_CHECKING:
    from .resolver import TaskResolver

# Service name and log level come from Powertools' own POWERTOOLS_* variables (template Globals).
logger = Logger()

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _metrics_namespace() -> str:
    try:
        return get_settings().metrics_namespace
    except ValidationError:
        # Broken settings are the request's 500 (the resolver logs why); the metric still goes out.
        return Settings.model_fields["metrics_namespace"].default  # type: ignore[no-any-return]


def count(name: str, **dimensions: str) -> None:
    """Emit one metric (EMF) now: for events worth counting that Lambda does not count itself."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=_metrics_namespace()) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


def lambda_entrypoint(resolver: TaskResolver, operation: str) -> LambdaHandler:
    """The function's `lambda_handler`: the resolver under Logger, with the invocation's time limit.

    Logs are JSON with the API Gateway request id as correlation id. Metrics: `ColdStart` on an
    environment's first invocation; nothing else per invocation, as Lambda's own `Invocations`,
    `Errors` and `Duration` per function already count every operation (one function each) and
    an EMF flush per call measured 50-130 us (docs/performance.md). Database calls end before
    the invocation's time does, so a database that does not answer is a 503, not a timeout.
    """
    first_invocation = True

    @logger.inject_lambda_context
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal first_invocation
        if first_invocation:
            first_invocation = False
            count("ColdStart", function_name=context.function_name, operation=operation)
        # The request id read directly: Powertools' JMESPath correlation path costs ~25 us a call.
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        with InvocationTimeLimit(context.get_remaining_time_in_millis()):
            return resolver.resolve(event, context)

    return cast(LambdaHandler, lambda_handler)
