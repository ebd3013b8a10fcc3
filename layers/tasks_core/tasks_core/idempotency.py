"""Idempotency-Key on create (API.md, "Retries and concurrent edits"): what makes two requests
"the same request", and the key as the repository stores it.

Powertools' idempotency utility is not used: its persistence layers are DynamoDB and Redis, and
its `BasePersistenceLayer` saves the record and the response in separate calls around the
handler (in progress, then completed), which is two more round trips and two more transactions
than the task's own insert. Here the key, the answer and the task are one statement
(sql.CREATE_TASK_WITH_KEY), so none of them can exist without the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from . import repository
from .db import Database
from .models import TaskCreate
from .repository import IdempotencyKey

# Rows per DELETE, and the time a run keeps in hand for its last batch (its timeout is 60 s).
PURGE_BATCH = 5000
PURGE_RESERVE_MS = 10_000


def fingerprint(task: TaskCreate) -> str:
    """SHA-256 of the request after parsing and normalising: the task it would create.

    `{"title": " a "}` and `{"completed": false, "title": "a"}` create the same task, so they are
    the same request, whatever the JSON's formatting, order or defaults.
    """
    canonical = json.dumps(task.model_dump(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotency_key(key: str | None, task: TaskCreate, ttl_s: int) -> IdempotencyKey | None:
    """The key of a create request, with its fingerprint, or None when the client sent none."""
    if key is None:
        return None
    return IdempotencyKey(key=key, fingerprint=fingerprint(task), ttl_s=ttl_s)


def purge_expired_keys(
    db: Database,
    remaining_ms: Callable[[], int],
    *,
    batch: int = PURGE_BATCH,
    reserve_ms: int = PURGE_RESERVE_MS,
) -> int:
    """Delete expired keys a batch at a time until none are left or time runs short; the count."""
    purged = 0
    while remaining_ms() > reserve_ms:
        deleted = repository.purge_expired_keys(db, batch)
        purged += deleted
        if deleted < batch:
            break
    return purged
