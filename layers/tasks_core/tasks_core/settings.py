"""Settings: read from the environment once per cold start, validated, then passed around.

Domain and data code never read `os.environ`; they take a `Settings` (or a part of it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from importlib import resources
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# Amazon's trust roots, which RDS Proxy's certificates chain to (see certs/amazon-trust-roots.pem).
AMAZON_TRUST_ROOTS = str(resources.files(__package__).joinpath("certs", "amazon-trust-roots.pem"))

AuthMode = Literal["url", "secret", "iam"]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class DatabaseSettings(BaseModel):
    """How to reach PostgreSQL, with which credentials, and how long to wait for it.

    - `url`: DATABASE_URL holds everything (local runs, any server);
    - `secret`: host, port, name and user from settings, the password from a Secrets Manager
      secret (an RDS secret: JSON with `password`, and `username` if no user is given);
    - `iam`: an RDS IAM auth token generated for every connect, never stored.
    The two AWS modes always use TLS, verified against Amazon's roots by default.
    """

    model_config = ConfigDict(frozen=True)

    auth: AuthMode = "url"
    url: SecretStr | None = Field(default=None, description="libpq URI or key=value string (DATABASE_URL)")
    host: str | None = None
    port: int = Field(default=5432, ge=1, le=65535)
    name: str | None = None
    user: str | None = None
    secret_id: str | None = None
    region: str | None = None
    sslmode: SslMode = "verify-full"
    sslrootcert: str = AMAZON_TRUST_ROOTS
    connect_timeout_s: int = Field(default=3, ge=2, le=30, description="libpq connect_timeout")
    # Bounds a request on a network that silently dropped the connection (TCP only).
    tcp_user_timeout_ms: int = Field(default=5000, ge=0, le=60000)
    application_name: str = Field(default="tasks-api", max_length=63)
    # How long a secret read from Secrets Manager is used before it is read again.
    secret_max_age_s: int = Field(default=300, ge=0)
    # The role the migrations create for the API functions and grant to (tasks_core.migrate's
    # DEFAULT_APP_ROLE): used by the migrations function, which itself connects as the owner.
    app_role: str = Field(default="tasks_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # The client-side deadline of each database call (connect, statement, its retry): the
    # invocation's remaining time less this margin, kept to answer 503 before Lambda's timeout...
    deadline_margin_ms: int = Field(default=1000, ge=0, le=60000)
    # ...and never longer than this cap (the whole deadline outside an invocation). Above the
    # role's statement_timeout (5 s), so a slow statement is the server's to cancel; at least 3 s,
    # as libpq waits at least 2 s for a connection.
    deadline_cap_ms: int = Field(default=8000, ge=3000, le=900000)

    @model_validator(mode="after")
    def _complete_for_mode(self) -> Self:
        required: dict[AuthMode, tuple[str, ...]] = {
            "url": ("url",),
            "secret": ("host", "name", "secret_id"),
            "iam": ("host", "name", "user", "region"),
        }
        missing = [field for field in required[self.auth] if not getattr(self, field)]
        if missing:
            raise ValueError(f"auth mode {self.auth!r} needs {', '.join(missing)}")
        if self.auth != "url" and self.sslmode not in ("require", "verify-ca", "verify-full"):
            raise ValueError("the secret and iam modes need TLS: sslmode require, verify-ca or verify-full")
        return self


class AuthSettings(BaseModel):
    """Whether callers are authenticated by the API's JWT authorizer, and which claim names them."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    user_id_claim: str = Field(default="sub", min_length=1)


class Settings(BaseModel):
    """Everything the functions are configured with."""

    model_config = ConfigDict(frozen=True)

    database: DatabaseSettings
    auth: AuthSettings = AuthSettings()
    # Keys the MAC on list cursors; a deployment should set its own (CURSOR_SECRET).
    cursor_secret: SecretStr = SecretStr("tasks-api/cursor/v1")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After on 503 responses")
    # CloudWatch namespace of the functions' metrics (EMF); the template sets it per stack.
    metrics_namespace: str = Field(default="TasksApi", min_length=1, max_length=255)
    # How long an Idempotency-Key and its answer are kept (API.md: 24 hours by default).
    idempotency_key_ttl_s: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from environment variables (names as in template.yaml)."""
        database_names = {
            "auth": "DB_AUTH_MODE",
            "url": "DATABASE_URL",
            "host": "DB_HOST",
            "port": "DB_PORT",
            "name": "DB_NAME",
            "user": "DB_USER",
            "secret_id": "DB_SECRET_ID",
            "region": "AWS_REGION",
            "sslmode": "DB_SSLMODE",
            "sslrootcert": "DB_SSLROOTCERT",
            "connect_timeout_s": "DB_CONNECT_TIMEOUT",
            "tcp_user_timeout_ms": "DB_TCP_USER_TIMEOUT_MS",
            "application_name": "DB_APPLICATION_NAME",
            "secret_max_age_s": "DB_SECRET_MAX_AGE",
            "app_role": "DB_APP_ROLE",
            "deadline_margin_ms": "DB_DEADLINE_MARGIN_MS",
            "deadline_cap_ms": "DB_DEADLINE_CAP_MS",
        }
        auth_names = {"enabled": "AUTH_ENABLED", "user_id_claim": "AUTH_USER_ID_CLAIM"}
        top_names = {
            "cursor_secret": "CURSOR_SECRET",
            "retry_after_s": "RETRY_AFTER_SECONDS",
            "idempotency_key_ttl_s": "IDEMPOTENCY_KEY_TTL_SECONDS",
            "metrics_namespace": "POWERTOOLS_METRICS_NAMESPACE",
        }

        def given(names: Mapping[str, str]) -> dict[str, object]:
            # An empty variable counts as unset, as CloudFormation passes "" for optional parameters.
            return {field: env[name] for field, name in names.items() if env.get(name)}

        values = {"database": given(database_names), "auth": given(auth_names), **given(top_names)}
        return cls.model_validate(values)


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read on first use (the cold start) and kept."""
    return Settings.from_env(os.environ)
