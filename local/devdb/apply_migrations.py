"""`make migrate`: apply pending migrations to DATABASE_URL, or to the local embedded database.

The runner is the one the deploy-time custom resource uses (tasks_core.migrate), with its
transaction-scoped advisory lock and its retries, so running it while `make run` serves is
safe. It connects as the owner (DATABASE_URL's user, or the embedded server's superuser) and
creates the API's role (DB_APP_ROLE, default tasks_app) with its grants.
"""

from __future__ import annotations

import os
import sys

from local.devdb.database import DEFAULT_DATA_DIR, EmbeddedPostgres, app_role
from tasks_core.migrate import migrate


def main() -> int:
    """Migrate and say what was applied."""
    url = os.environ.get("DATABASE_URL")
    server = None
    if not url:
        server = EmbeddedPostgres(DEFAULT_DATA_DIR)
        url = server.start()
    try:
        applied = migrate(url, app_role())
    finally:
        if server is not None:
            server.stop()
    sys.stdout.write("applied: " + (", ".join(applied) or "nothing, the schema is up to date") + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
