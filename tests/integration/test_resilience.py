"""The database goes away and comes back: requests answer 503 quickly meanwhile, and the same
execution environment recovers on its own, without a restart."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from local.devdb.database import EmbeddedPostgres
from tasks_core import repository
from tasks_core.errors import DatabaseUnavailable
from tasks_core.migrate import migrate
from tests.integration.conftest import make_database
from tests.support.tasks import as_task, create


def test_database_down_then_back(user_id: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tasks-pg-restart-"))
    server = EmbeddedPostgres(folder / "data")  # kept on stop, so it can start again
    try:
        url = server.start()
        migrate(url)
        db = make_database(url)
        created = create(db, user_id, "before the outage")

        server.stop()
        for _ in range(3):  # every request, not only the first, answers fast
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                repository.get_task(db, user_id, created.id)
            assert time.monotonic() - started < 8  # bounded by the connect timeout, not the 10 s function timeout

        assert server.start() == url
        assert as_task(repository.get_task(db, user_id, created.id)) == created
        assert create(db, user_id, "after").title == "after"
        db.close()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
