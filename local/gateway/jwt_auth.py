"""The HttpApi JWT authorizer, locally: what API Gateway checks before it invokes a function.

The template's HttpApi `Auth` (DefaultAuthorizer, Authorizers with JwtConfiguration) and each
event's `Auth.Authorizer` decide which routes need a token. A token is verified as API Gateway
does: signature against a key set, `exp` and `nbf`, `iss` equal to the issuer, `aud` (or
`client_id`) among the audiences. Anything wrong is 401 `{"message":"Unauthorized"}`. The
verified claims reach the function in `requestContext.authorizer.jwt`.

Keys: a JWKS file (`--jwks`, e.g. your identity provider's keys saved for offline use) or a
development key this runtime generates once in `.local/jwt/` and mints tokens with
(`python -m local token <user>`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.template import LOCAL_PARAMETERS, PROJECT_ROOT, TEMPLATE_PATH, Resolver, Route, load_template, merged_globals

DEV_KEY_PATH = PROJECT_ROOT / ".local" / "jwt" / "dev-key.pem"
DEV_KEY_ID = "tasks-api-local-dev"
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]


class Unauthorized(Exception):
    """The request's token is missing or does not verify."""


@dataclass(frozen=True)
class JwtAuthorizer:
    """One JWT authorizer of an HttpApi."""

    name: str
    issuer: str
    audiences: tuple[str, ...]
    header: str = "authorization"


@dataclass(frozen=True)
class ApiAuth:
    """An HttpApi's authorizers and the one its routes use unless they say otherwise."""

    default: str | None
    authorizers: Mapping[str, JwtAuthorizer]


def load_api_auth(path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None) -> dict[str, ApiAuth]:
    """The JWT authorizers of each HttpApi of the template, by logical id."""
    template = load_template(path)
    resolver = Resolver(template, {**LOCAL_PARAMETERS, **(parameters or {})})
    found: dict[str, ApiAuth] = {}
    for name, properties in merged_globals(template, "HttpApi").items():
        auth = resolver.resolve(properties.get("Auth")) or {}
        authorizers = {}
        for authorizer_name, spec in (auth.get("Authorizers") or {}).items():
            config = spec.get("JwtConfiguration")
            if not config:
                continue  # Lambda and IAM authorizers are not emulated
            audiences = config.get("audience") or config.get("Audience") or []
            source = str(spec.get("IdentitySource") or "$request.header.Authorization")
            authorizers[authorizer_name] = JwtAuthorizer(
                name=authorizer_name,
                issuer=str(config.get("issuer") or config.get("Issuer") or ""),
                audiences=tuple(str(item) for item in ([audiences] if isinstance(audiences, str) else audiences)),
                header=source.removeprefix("$request.header.").lower(),
            )
        if authorizers:
            found[name] = ApiAuth(default=auth.get("DefaultAuthorizer"), authorizers=authorizers)
    return found


def route_authorizer(route: Route, apis: Mapping[str, ApiAuth]) -> JwtAuthorizer | None:
    """The authorizer that guards a route, or None (NONE, or an API without one)."""
    api = apis.get(route.api)
    if api is None:
        return None
    name = route.authorizer or api.default
    if name is None or name == "NONE":
        return None
    return api.authorizers.get(name)


# --- keys -------------------------------------------------------------------------------------


def dev_private_key(path: Path = DEV_KEY_PATH) -> rsa.RSAPrivateKey:
    """The development signing key, made on first use and kept (git-ignored)."""
    if path.is_file():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"{path} is not an RSA key")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)
    return key


def dev_jwks(path: Path = DEV_KEY_PATH) -> dict[str, Any]:
    """The development key's public half as a JWKS document."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(dev_private_key(path).public_key()))
    public.update(kid=DEV_KEY_ID, use="sig", alg="RS256")
    return {"keys": [public]}


def mint_token(
    user_id: str,
    authorizer: JwtAuthorizer,
    *,
    claim: str = "sub",
    expires_in_s: int = 3600,
    extra: Mapping[str, Any] | None = None,
    key_path: Path = DEV_KEY_PATH,
) -> str:
    """A token for `user_id` that the authorizer accepts, signed with the development key."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": authorizer.issuer,
        "aud": authorizer.audiences[0] if len(authorizer.audiences) == 1 else list(authorizer.audiences),
        "iat": now,
        "exp": now + expires_in_s,
        "jti": str(uuid.uuid4()),
        claim: user_id,
        **(extra or {}),
    }
    return jwt.encode(claims, dev_private_key(key_path), algorithm="RS256", headers={"kid": DEV_KEY_ID})


# --- verification -----------------------------------------------------------------------------


def _claim_text(value: Any) -> str:
    # API Gateway passes claims as strings; arrays as "[a b]".
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TokenVerifier:
    """Verifies bearer tokens against a key set, as the HttpApi JWT authorizer does."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(dict(jwks)).keys}

    def verify(self, headers: Mapping[str, str], authorizer: JwtAuthorizer) -> dict[str, Any]:
        """The `requestContext.authorizer` of a request with a valid token; Unauthorized otherwise."""
        value = headers.get(authorizer.header, "").strip()
        token = value[7:].strip() if value[:7].lower() == "bearer " else value
        if not token:
            raise Unauthorized("no token")
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(key_id) if key_id is not None else next(iter(self._keys.values()), None)
            if key is None:
                raise Unauthorized("unknown signing key")
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=authorizer.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from exc
        audiences = claims.get("aud", claims.get("client_id"))
        given = set(audiences) if isinstance(audiences, list) else {audiences}
        if not given & set(authorizer.audiences):
            raise Unauthorized("audience not accepted")
        scopes = str(claims.get("scope", "")).split() or None
        return {"jwt": {"claims": {name: _claim_text(value) for name, value in claims.items()}, "scopes": scopes}}
