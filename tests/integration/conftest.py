"""Integration tests use the layer directly against the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tasks_core.db import Database
from tasks_core.settings import DatabaseSettings


def make_database(url: str) -> Database:
    """A Database of its own (its own connection), as one execution environment has."""
    return Database(DatabaseSettings(auth="url", url=SecretStr(url)), retry_after_s=5)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = make_database(database_url)
    yield database
    database.close()
