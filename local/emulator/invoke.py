"""`python -m local invoke`: one invocation of one function, as `sam local invoke` runs it.

The response goes to stdout; the function's logs and START/END/REPORT go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from local.emulator.pool import FunctionPool, Status
from local.template import Function


async def invoke(function: Function, event: Any) -> bool:
    """Run the function once in a worker; print its response; True when it did not fail."""
    pool = FunctionPool(function, limit=1, stdout=sys.stderr.fileno())
    try:
        outcome = await pool.invoke(event)
    finally:
        await pool.close()
    payload = outcome.result if outcome.status is Status.OK else outcome.error
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()
    return outcome.status is Status.OK
