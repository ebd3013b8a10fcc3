"""Where a connection's credentials come from: DATABASE_URL, a Secrets Manager secret, or an
RDS IAM auth token.

boto3 is imported only by the two AWS modes, when they first connect: its import alone costs
about 140 ms of cold start, which a function on DATABASE_URL never pays. With SnapStart it is
imported before the snapshot instead (`import_clients`), and nothing else is made then.

Every AWS client here has a boto3 session of its own, owned by the credentials object: when the
environment drops its database after a SnapStart restore (tasks_core.environment.forget), the
AWS credentials resolved before the snapshot go with it, and nothing in boto3's default session
outlives it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from .settings import AuthMode, DatabaseSettings

ConnectParams = dict[str, Any]

# Calls to AWS for credentials stay well inside the function's timeout (botocore's defaults are
# 60 s to connect and 60 s to read, with retries): two tries of at most 2 + 2 s.
AWS_CALL_LIMITS: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 2,
    "retries": {"mode": "standard", "total_max_attempts": 2},
}


# What the first connect of each AWS mode imports (boto3, botocore, Powertools parameters).
_CLIENT_MODULES: dict[AuthMode, tuple[str, ...]] = {
    "secret": ("aws_lambda_powertools.utilities.parameters", "botocore.config"),
    "iam": ("boto3", "botocore.config", "botocore.exceptions"),
}


def import_clients(settings: DatabaseSettings) -> None:
    """Import what the configured mode connects with, and make nothing: no client, no credentials."""
    for name in _CLIENT_MODULES.get(settings.auth, ()):
        importlib.import_module(name)


class CredentialsUnavailable(Exception):
    """The credentials could not be had: Secrets Manager or AWS credentials unreachable or refusing."""


class Credentials(Protocol):
    """Gives the parameters of the next connect; may re-read them after a failed one."""

    def connect_params(self) -> ConnectParams:
        """libpq parameters (conninfo and keywords) for a new connection; CredentialsUnavailable."""
        ...

    def refresh(self) -> bool:
        """Read the credentials again after a failed connect; True when they changed."""
        ...


def _tls(settings: DatabaseSettings) -> ConnectParams:
    return {"sslmode": settings.sslmode, "sslrootcert": settings.sslrootcert}


class UrlCredentials:
    """Everything in DATABASE_URL."""

    def __init__(self, settings: DatabaseSettings) -> None:
        if settings.url is None:
            raise ValueError("DATABASE_URL is not set")
        self._url = settings.url

    def connect_params(self) -> ConnectParams:
        return {"conninfo": self._url.get_secret_value()}

    def refresh(self) -> bool:
        return False


SecretReader = Callable[[str, bool], str]


def powertools_secret_reader(max_age_s: int, region: str | None) -> SecretReader:
    """Reads a secret with Powertools parameters: cached for max_age_s, or fetched anew."""
    # Imported here: Powertools parameters import boto3, which only this mode needs.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    provider = SecretsProvider(boto_config=Config(region_name=region, **AWS_CALL_LIMITS))

    def read(secret_id: str, force: bool) -> str:
        try:
            return str(provider.get(secret_id, max_age=max_age_s, force_fetch=force))
        except GetParameterError as exc:  # Powertools wraps every failure of the call in it
            raise CredentialsUnavailable(f"secret {secret_id!r} could not be read") from exc

    return read


class SecretCredentials:
    """The password (and user, unless set) from an RDS secret in Secrets Manager.

    The secret is cached; when a connect fails it is read again once, so a rotated password
    does not break warm functions.
    """

    def __init__(self, settings: DatabaseSettings, read_secret: SecretReader | None = None) -> None:
        if settings.secret_id is None:
            raise ValueError("DB_SECRET_ID is not set")
        self._settings = settings
        self._secret_id = settings.secret_id
        self._read = read_secret or powertools_secret_reader(settings.secret_max_age_s, settings.region)
        self._secret: dict[str, Any] | None = None

    def _load(self, force: bool) -> dict[str, Any]:
        secret: dict[str, Any] = json.loads(self._read(self._secret_id, force))
        return secret

    def connect_params(self) -> ConnectParams:
        secret = self._secret = self._secret or self._load(force=False)
        settings = self._settings
        return {
            "host": settings.host,
            "port": settings.port,
            "dbname": settings.name,
            "user": settings.user or secret["username"],
            "password": secret["password"],
            **_tls(settings),
        }

    def refresh(self) -> bool:
        before = self._secret
        self._secret = self._load(force=True)
        return self._secret != before


TokenSource = Callable[[], str]


def boto3_token_source(settings: DatabaseSettings) -> TokenSource:
    """Makes fresh RDS IAM auth tokens (valid 15 minutes), signed locally by boto3."""
    import boto3  # noqa: PLC0415  # imported only in the IAM mode
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415

    # A session of its own: its resolved AWS credentials live and die with this token source.
    client = boto3.session.Session().client("rds", region_name=settings.region, config=Config(**AWS_CALL_LIMITS))

    def token() -> str:
        try:
            value: str = client.generate_db_auth_token(
                DBHostname=settings.host, Port=settings.port, DBUsername=settings.user, Region=settings.region
            )
        except BotoCoreError as exc:  # no AWS credentials to sign with
            raise CredentialsUnavailable("no IAM auth token could be made") from exc
        return value

    return token


class IamCredentials:
    """An IAM auth token made for every connect; nothing is stored."""

    def __init__(self, settings: DatabaseSettings, token_source: TokenSource | None = None) -> None:
        self._settings = settings
        self._token = token_source

    def connect_params(self) -> ConnectParams:
        settings = self._settings
        return {
            "host": settings.host,
            "port": settings.port,
            "dbname": settings.name,
            "user": settings.user,
            "password": self._next_token(),
            **_tls(settings),
        }

    def _next_token(self) -> str:
        if self._token is None:
            self._token = boto3_token_source(self._settings)
        return self._token()

    def refresh(self) -> bool:
        return False  # every connect makes a new token already; another try would not help


def credentials_for(settings: DatabaseSettings) -> Credentials:
    """The credentials of the configured auth mode."""
    if settings.auth == "secret":
        return SecretCredentials(settings)
    if settings.auth == "iam":
        return IamCredentials(settings)
    return UrlCredentials(settings)
