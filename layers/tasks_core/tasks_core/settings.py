"""Settings: read from the environment once per cold start, validated, then passed around.

Domain and data code never read `os.environ`; they take a `Settings` (or a part of it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class DatabaseSettings(BaseModel):
    """How to reach PostgreSQL and how long to wait for it."""

    model_config = ConfigDict(frozen=True)

    url: SecretStr = Field(min_length=1, description="libpq connection URI or key=value string (DATABASE_URL)")
    connect_timeout_s: int = Field(default=3, ge=2, le=30, description="libpq connect_timeout")
    # Bounds a request on a network that silently dropped the connection (TCP only).
    tcp_user_timeout_ms: int = Field(default=5000, ge=0, le=60000)
    application_name: str = Field(default="tasks-api", max_length=63)


class Settings(BaseModel):
    """Everything the functions are configured with."""

    model_config = ConfigDict(frozen=True)

    database: DatabaseSettings
    # Keys the MAC on list cursors; a deployment should set its own (CURSOR_SECRET).
    cursor_secret: SecretStr = SecretStr("tasks-api/cursor/v1")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After on 503 responses")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from environment variables (names as in template.yaml)."""
        database: dict[str, object] = {"url": env.get("DATABASE_URL", "")}
        optional = {
            "connect_timeout_s": "DB_CONNECT_TIMEOUT",
            "tcp_user_timeout_ms": "DB_TCP_USER_TIMEOUT_MS",
            "application_name": "DB_APPLICATION_NAME",
        }
        database.update({field: env[name] for field, name in optional.items() if env.get(name)})
        values: dict[str, object] = {"database": database}
        if env.get("CURSOR_SECRET"):
            values["cursor_secret"] = env["CURSOR_SECRET"]
        if env.get("RETRY_AFTER_SECONDS"):
            values["retry_after_s"] = env["RETRY_AFTER_SECONDS"]
        return cls.model_validate(values)


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read on first use (the cold start) and kept."""
    return Settings.from_env(os.environ)
