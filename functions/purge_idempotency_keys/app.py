"""Scheduled by EventBridge: delete expired Idempotency-Keys, so the table stays bounded.

Expired keys never block a request (a create takes an expired key over); this only reclaims
their rows. Batches keep each statement short; the run stops well before its timeout.
"""

from typing import Any

from tasks_core import environment, idempotency
from tasks_core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    purged = idempotency.purge_expired_keys(environment.database(), context.get_remaining_time_in_millis)
    logger.info("expired idempotency keys purged", extra={"purged": purged})
    return {"purged": purged}
