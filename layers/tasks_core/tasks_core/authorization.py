"""The check every task function makes when API Gateway's JWT authorizer is on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import Forbidden
from .settings import AuthSettings


def authorize(event: Mapping[str, Any], user_id: str, auth: AuthSettings) -> None:
    """With authorization on, the token's user claim must be the path's user: else Forbidden.

    API Gateway's JWT authorizer has verified the token (signature, issuer, audience, expiry)
    and passes its claims; a request without them is refused too.
    """
    if not auth.enabled:
        return
    context = event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    claim = claims.get(auth.user_id_claim)
    if claim is None or str(claim) != user_id:
        raise Forbidden()
