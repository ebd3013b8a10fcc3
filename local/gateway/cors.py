"""CORS as an HTTP API with a CorsConfiguration applies it.

API Gateway answers preflight requests itself (even without an OPTIONS route), adds the
configured headers to the responses of allowed origins, and drops the CORS headers that the
integration returned.
"""

from __future__ import annotations

from collections.abc import Mapping

from local.gateway.payload import HttpResponse
from local.template import Cors


def _allowed_origin(cors: Cors, origin: str | None) -> str | None:
    if origin is None:
        return None
    if "*" in cors.allow_origins:
        return "*"
    return origin if origin in cors.allow_origins else None


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """An OPTIONS request with Origin and Access-Control-Request-Method."""
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight(cors: Cors, headers: Mapping[str, str]) -> HttpResponse:
    """API Gateway's answer to a preflight: 204, with the CORS headers when the request is allowed."""
    origin = _allowed_origin(cors, headers.get("origin"))
    method = headers.get("access-control-request-method", "").upper()
    allowed = origin is not None and ("*" in cors.allow_methods or method in cors.allow_methods)
    if not allowed:
        return HttpResponse(204, [], b"")
    response = [("access-control-allow-origin", origin or "")]
    if cors.allow_methods:
        response.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        response.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        response.append(("access-control-max-age", str(cors.max_age)))
    if cors.allow_credentials:
        response.append(("access-control-allow-credentials", "true"))
    return HttpResponse(204, response, b"")


def apply(cors: Cors, headers: Mapping[str, str], response: HttpResponse) -> HttpResponse:
    """The integration's response with the API's CORS headers in place of its own."""
    kept = [(name, value) for name, value in response.headers if not name.lower().startswith("access-control-")]
    origin = _allowed_origin(cors, headers.get("origin"))
    if origin is not None:
        kept.append(("access-control-allow-origin", origin))
        if cors.expose_headers:
            kept.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
        if cors.allow_credentials:
            kept.append(("access-control-allow-credentials", "true"))
    return HttpResponse(response.status, kept, response.body)
