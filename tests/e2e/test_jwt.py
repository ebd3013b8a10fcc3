"""The JWT authorizer switched on in template.yaml, served locally: API Gateway's 401s for bad
tokens, the functions' 403 for another user's path, and /health without a token."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local.devdb.database import scratch_database
from local.gateway.jwt_auth import DEV_KEY_ID, JwtAuthorizer, load_api_auth, mint_token
from local.gateway.payload import HttpResponse
from local.template import PROJECT_ROOT
from tests.e2e.server import HttpApi, LocalServer, local_server
from tests.support.contract import assert_error

AUTH_ON = ["--parameter-overrides", "AuthEnabled=true"]


@pytest.fixture(scope="module")
def auth_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    log = tmp_path_factory.mktemp("jwt") / "server.log"
    with (
        scratch_database(server_url, prefix="tasks_jwt") as url,
        local_server(log, [*AUTH_ON, "--no-reload"], env={"DATABASE_URL": url}) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def client(auth_server: LocalServer) -> HttpApi:
    return auth_server.api()


@pytest.fixture(scope="module")
def authorizer() -> JwtAuthorizer:
    [api] = load_api_auth(parameters={"AuthEnabled": "true"}).values()
    return api.authorizers["JwtAuthorizer"]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_unauthorized(response: HttpResponse) -> None:
    assert response.status == 401
    assert response.json() == {"message": "Unauthorized"}


def test_own_path_with_a_valid_token(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    token = mint_token("alice", authorizer)
    created = client.post("/users/alice/tasks", {"title": "mine"}, headers=bearer(token))
    assert created.status == 201
    listed = client.get("/users/alice/tasks", headers=bearer(token))
    assert listed.status == 200
    assert [task["title"] for task in listed.json()] == ["mine"]


def test_token_without_bearer_prefix_is_accepted(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    response = client.get("/users/alice/tasks", headers={"authorization": mint_token("alice", authorizer)})
    assert response.status == 200


def test_another_users_path_is_403(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    token = mint_token("bob", authorizer)
    for method, path, body in (
        ("GET", "/users/alice/tasks", None),
        ("POST", "/users/alice/tasks", {"title": "not mine"}),
        ("DELETE", "/users/alice/tasks/1", None),
    ):
        assert_error(client.request(method, path, json_body=body, headers=bearer(token)), 403, "forbidden")


def test_missing_token_is_401(client: HttpApi) -> None:
    assert_unauthorized(client.get("/users/alice/tasks"))
    assert_unauthorized(client.post("/users/alice/tasks", {"title": "x"}))


@pytest.mark.parametrize("value", ["Bearer", "Bearer not.a.token", "garbage", "Basic YWxpY2U6c2VjcmV0"])
def test_malformed_token_is_401(client: HttpApi, value: str) -> None:
    assert_unauthorized(client.get("/users/alice/tasks", headers={"authorization": value}))


def test_wrong_signature_is_401(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims: dict[str, Any] = jwt.decode(mint_token("alice", authorizer), options={"verify_signature": False})
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": DEV_KEY_ID})
    assert_unauthorized(client.get("/users/alice/tasks", headers=bearer(forged)))


def test_unsigned_token_is_401(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    claims: dict[str, Any] = jwt.decode(mint_token("alice", authorizer), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    assert_unauthorized(client.get("/users/alice/tasks", headers=bearer(unsigned)))


def test_expired_token_is_401(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    assert_unauthorized(
        client.get("/users/alice/tasks", headers=bearer(mint_token("alice", authorizer, expires_in_s=-5)))
    )


def test_wrong_audience_is_401(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    elsewhere = JwtAuthorizer(name="x", issuer=authorizer.issuer, audiences=("another-client",))
    assert_unauthorized(client.get("/users/alice/tasks", headers=bearer(mint_token("alice", elsewhere))))


def test_wrong_issuer_is_401(client: HttpApi, authorizer: JwtAuthorizer) -> None:
    elsewhere = JwtAuthorizer(name="x", issuer="https://evil.example/", audiences=authorizer.audiences)
    assert_unauthorized(client.get("/users/alice/tasks", headers=bearer(mint_token("alice", elsewhere))))


def test_health_needs_no_token(client: HttpApi) -> None:
    response = client.get("/health")
    assert response.status == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_token_command_mints_what_the_server_accepts(client: HttpApi) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local", "token", "carol"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
        timeout=60,
    )
    token = result.stdout.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "carol"
    assert client.get("/users/carol/tasks", headers=bearer(token)).status == 200
    assert json.loads(client.get("/users/dave/tasks", headers=bearer(token)).body)["code"] == "forbidden"
