"""The AWS credential paths against a PostgreSQL that checks passwords: a Secrets Manager secret
(moto) that is rotated under a warm connection, and IAM auth tokens made for every connect."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import psycopg
import pytest
import time_machine
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from tasks_core import repository
from tasks_core.credentials import (
    CredentialsUnavailable,
    IamCredentials,
    SecretCredentials,
    UrlCredentials,
    boto3_token_source,
)
from tasks_core.db import Database
from tasks_core.errors import DatabaseUnavailable
from tasks_core.settings import AMAZON_TRUST_ROOTS, DatabaseSettings
from tests.support.postgres import embedded_postgres

ROLE = "rotating_app"


@pytest.fixture(scope="module")
def password_server() -> Iterator[dict[str, Any]]:
    """An embedded server where ROLE must give its password (scram), everyone else is trusted."""
    with embedded_postgres() as url:
        yield from _with_password_role(url)


def _with_password_role(url: str) -> Iterator[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True) as conn:
        hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
        hba.write_text(f"local all {ROLE} scram-sha-256\n" + hba.read_text())
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD 'first-password'")
        conn.execute("SELECT pg_reload_conf()")
    params = conninfo_to_dict(url)
    yield {"admin_url": url, "host": params["host"], "port": int(params.get("port") or 5432)}


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


def secret_settings(server: dict[str, Any], arn: str, **overrides: Any) -> DatabaseSettings:
    # TLS is on in the AWS modes; the embedded server has no TLS on its Unix socket, so the
    # connection tests use `require`, which libpq does not enforce on a socket. verify-full
    # with Amazon's roots is the default, checked below.
    values: dict[str, Any] = {
        "auth": "secret",
        "host": server["host"],
        "port": server["port"],
        "name": "postgres",
        "secret_id": arn,
        "sslmode": "require",
        "region": "eu-west-1",
        **overrides,
    }
    return DatabaseSettings(**values)


def rds_secret(password: str) -> str:
    """A secret shaped as RDS and its rotation functions store it."""
    return json.dumps({"engine": "postgres", "username": ROLE, "password": password, "dbname": "postgres"})


def test_secret_mode_connects_with_the_secrets_user_and_password(password_server: dict[str, Any], secrets: Any) -> None:
    arn = secrets.create_secret(Name="tasks/db", SecretString=rds_secret("first-password"))["ARN"]
    db = Database(secret_settings(password_server, arn), retry_after_s=5)
    conn, _ = db.connection()
    assert conn.execute("SELECT current_user").fetchone() == (ROLE,)
    db.close()


def test_rotated_password_does_not_break_a_warm_function(password_server: dict[str, Any], secrets: Any) -> None:
    arn = secrets.create_secret(Name="tasks/rotating", SecretString=rds_secret("first-password"))["ARN"]
    db = Database(secret_settings(password_server, arn), retry_after_s=5)
    repository.ping(db)  # warm: the secret is cached

    # Rotation: the database gets a new password, the secret its new value, and the old
    # connection is closed (as the proxy or an idle timeout would).
    with psycopg.connect(password_server["admin_url"], autocommit=True) as admin:
        admin.execute(f"ALTER ROLE {ROLE} PASSWORD 'second-password'")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (ROLE,))
    secrets.put_secret_value(SecretId=arn, SecretString=rds_secret("second-password"))
    time.sleep(0.05)

    repository.ping(db)  # the cached password fails, the secret is read again, and it works
    conn, _ = db.connection()
    assert conn.info.password == "second-password"
    db.close()


def test_wrong_password_everywhere_is_503_not_a_loop(password_server: dict[str, Any], secrets: Any) -> None:
    arn = secrets.create_secret(Name="tasks/wrong", SecretString=rds_secret("not-the-password"))["ARN"]
    db = Database(secret_settings(password_server, arn), retry_after_s=5)
    with pytest.raises(DatabaseUnavailable):
        repository.ping(db)


def test_secret_is_cached_between_connects(password_server: dict[str, Any], secrets: Any) -> None:
    arn = secrets.create_secret(Name="tasks/cached", SecretString=rds_secret("first-password"))["ARN"]
    credentials = SecretCredentials(secret_settings(password_server, arn))
    first = credentials.connect_params()
    secrets.put_secret_value(SecretId=arn, SecretString=rds_secret("changed-meanwhile"))
    assert credentials.connect_params() == first  # no read until a connect fails
    assert credentials.refresh() is True
    assert credentials.connect_params()["password"] == "changed-meanwhile"
    assert credentials.refresh() is False  # nothing changed since


def test_aws_modes_use_tls_verified_against_amazons_roots() -> None:
    settings = DatabaseSettings(
        auth="iam", host="tasks.proxy-abc.eu-west-1.rds.amazonaws.com", name="tasks", user="app", region="eu-west-1"
    )
    params = IamCredentials(settings, token_source=lambda: "token").connect_params()
    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == AMAZON_TRUST_ROOTS
    roots = Path(AMAZON_TRUST_ROOTS).read_text()
    assert roots.count("-----BEGIN CERTIFICATE-----") == 5
    for name in ("Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"):
        assert f"# {name}\n" in roots


def test_aws_modes_refuse_to_run_without_tls() -> None:
    with pytest.raises(ValueError, match="need TLS"):
        DatabaseSettings(auth="secret", host="h", name="n", secret_id="arn", sslmode="disable")


def test_iam_token_is_made_for_every_connect(password_server: dict[str, Any]) -> None:
    with mock_aws():
        settings = DatabaseSettings(
            auth="iam",
            host="tasks.proxy-abc.eu-west-1.rds.amazonaws.com",
            port=5432,
            name="tasks",
            user="tasks_app",
            region="eu-west-1",
        )
        credentials = IamCredentials(settings, token_source=boto3_token_source(settings))
        first = credentials.connect_params()
        time.sleep(1.1)  # the token's signature covers its time to the second
        second = credentials.connect_params()
    for params in (first, second):
        token = params["password"]
        assert token.startswith("tasks.proxy-abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect")
        assert "DBUser=tasks_app" in token
        assert "X-Amz-Signature=" in token
        assert "X-Amz-Expires=900" in token
        assert params["user"] == "tasks_app"
        assert params["sslmode"] == "verify-full"
    assert first["password"] != second["password"]


def test_url_mode_passes_the_url_through() -> None:
    settings = DatabaseSettings(url=SecretStr("postgresql://u@h/d"))
    assert UrlCredentials(settings).connect_params() == {"conninfo": "postgresql://u@h/d"}


def signed_at(token: str) -> datetime:
    """When an RDS IAM auth token was signed (its X-Amz-Date)."""
    query = parse_qs(token.split("?", 1)[1])
    assert query["X-Amz-Expires"] == ["900"]  # valid 15 minutes from then
    return datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_iam_reconnect_after_15_minutes_uses_a_fresh_token(password_server: dict[str, Any]) -> None:
    role = "iam_app"  # trusted by the server: the test reads the token libpq sent, not its check
    with psycopg.connect(password_server["admin_url"], autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN")
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with mock_aws(), time_machine.travel(start, tick=True) as clock:
        settings = DatabaseSettings(
            auth="iam",
            host=password_server["host"],
            port=password_server["port"],
            name="postgres",
            user=role,
            region="eu-west-1",
            sslmode="require",  # not enforced by libpq on the embedded server's Unix socket
        )
        # Tokens signed by boto3 for a proxy's name (a socket folder is no host name to sign).
        proxy = settings.model_copy(update={"host": "tasks.proxy-abc.eu-west-1.rds.amazonaws.com"})
        credentials = IamCredentials(settings, token_source=boto3_token_source(proxy))
        db = Database(settings, retry_after_s=5, credentials=credentials)
        repository.ping(db)
        first = db.connection()[0].info.password

        clock.shift(timedelta(minutes=16))
        repository.ping(db)  # a token is checked at connect only: the open connection goes on
        kept, fresh = db.connection()
        assert (kept.info.password, fresh) == (first, False)

        with psycopg.connect(password_server["admin_url"], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        time.sleep(0.05)
        repository.ping(db)  # the reconnect, 16 minutes after the first connect
        second = db.connection()[0].info.password
        reconnected_at = datetime.now(UTC)
        db.close()
    assert abs(signed_at(first) - start) < timedelta(seconds=5)
    assert second != first
    # Signed for this connect: the first token had expired by then (15 minutes), this one had not.
    assert signed_at(first) + timedelta(minutes=15) < reconnected_at
    assert signed_at(second) <= reconnected_at < signed_at(second) + timedelta(minutes=15)


def test_a_secret_that_cannot_be_read_is_503(password_server: dict[str, Any], secrets: Any) -> None:
    db = Database(secret_settings(password_server, "tasks/no-such-secret"), retry_after_s=5)
    with pytest.raises(DatabaseUnavailable) as caught:
        repository.ping(db)
    assert isinstance(caught.value.__cause__, CredentialsUnavailable)


def test_secrets_manager_that_does_not_answer_is_503_in_bounded_time(
    password_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An endpoint that takes connections and never answers (a listening socket nobody serves).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{silent.getsockname()[1]}")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, "testing")
        db = Database(secret_settings(password_server, "tasks/db"), retry_after_s=5)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as caught:
            repository.ping(db)
    # Two tries of a 2 s read timeout, under the function's 10 s (botocore alone waits 60 s a try).
    assert time.monotonic() - started < 9
    assert isinstance(caught.value.__cause__, CredentialsUnavailable)
