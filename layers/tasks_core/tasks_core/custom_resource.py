"""Answering CloudFormation custom resource requests: always once, SUCCESS or FAILED.

CloudFormation waits (up to an hour, or the resource's ServiceTimeout) for the answer PUT to the
request's pre-signed ResponseURL. So the answer is sent whatever happens: FAILED with the error
when the action raises, and FAILED shortly before the function would time out.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from .observability import logger

CustomResourceEvent = dict[str, Any]
Action = Callable[[CustomResourceEvent], dict[str, Any]]

# Time kept to send FAILED before the function's own timeout.
TIMEOUT_MARGIN_S = 10.0
MAX_REASON_BYTES = 2048


class HasRemainingTime(Protocol):
    """The part of the Lambda context the guard needs."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function times out."""
        ...


def send_response(event: CustomResourceEvent, status: str, reason: str, physical_id: str, data: dict[str, Any]) -> None:
    """PUT the answer to the pre-signed S3 URL CloudFormation gave."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore"),
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    # The pre-signed URL is signed for an empty Content-Type.
    request = urllib.request.Request(  # noqa: S310  # an https URL from CloudFormation
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


def run_custom_resource(
    event: CustomResourceEvent, context: HasRemainingTime, action: Action, physical_id: str
) -> None:
    """Run `action` for the request and send CloudFormation its one answer."""
    answered = threading.Lock()

    def answer(status: str, reason: str, data: dict[str, Any]) -> None:
        if not answered.acquire(blocking=False):
            return  # the other path has answered already
        logger.info("custom resource answer", extra={"status": status, "reason": reason})
        send_response(event, status, reason, event.get("PhysicalResourceId") or physical_id, data)

    seconds_left = context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_S
    guard = threading.Timer(max(seconds_left, 0.0), answer, args=("FAILED", "timed out before its action finished", {}))
    guard.daemon = True
    guard.start()
    try:
        data = action(event)
    except Exception as exc:  # noqa: BLE001  # any failure must reach CloudFormation as FAILED
        logger.exception("custom resource action failed")
        answer("FAILED", f"{type(exc).__name__}: {exc}", {})
    else:
        answer("SUCCESS", "done", data)
    finally:
        guard.cancel()
