"""Embedded PostgreSQL servers for tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local.devdb.database import EmbeddedPostgres


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """An embedded server in a new temporary folder, stopped and removed afterwards.

    The folder is not one of pytest's: pytest prunes its numbered temporary folders when another
    session starts, which would pull the data out from under a running server.
    """
    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="tasks-pg-")) / "data", delete_on_stop=True)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)
