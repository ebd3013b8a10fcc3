"""`make migrate`: apply pending migrations to DATABASE_URL, or to the local embedded database.

The runner is the one the deploy-time custom resource uses (tasks_core.migrate), with its
transaction-scoped advisory lock, so running it while `make run` serves is safe.
"""

from __future__ import annotations

import os
import sys

from tasks_core.migrate import migrate

from .database import EmbeddedPostgres
from .template import PROJECT_ROOT

DEV_DATA_DIR = PROJECT_ROOT / ".local" / "pgdata"


def main() -> int:
    """Migrate and say what was applied."""
    url = os.environ.get("DATABASE_URL")
    server = None
    if not url:
        server = EmbeddedPostgres(DEV_DATA_DIR)
        url = server.start()
    try:
        applied = migrate(url)
    finally:
        if server is not None:
            server.stop()
    sys.stdout.write("applied: " + (", ".join(applied) or "nothing, the schema is up to date") + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
