"""The gateway as an ASGI application, which the HTTP server (`http_server`, uvicorn) calls.

uvicorn parses HTTP/1.1 (httptools: llhttp, in C) and refuses what could smuggle a request (both
framings, conflicting lengths, folded headers) or is not HTTP (control characters such as NUL in
a header, bad chunk sizes) with its plain-text 400; it answers `Expect: 100-continue` and keeps
connections alive. This module adds what uvicorn leaves to the application: RFC 9112's Host
rule (an HTTP/1.1 request needs exactly one), the versions served (1.0 and 1.1), API Gateway's
limit on request bodies, and header values HTTP cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from local.gateway.dispatch import INTERNAL_SERVER_ERROR, JSON, MAX_REQUEST_BYTES, TOO_LARGE, Gateway, Request
from local.gateway.payload import HttpResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BAD_REQUEST = HttpResponse(400, JSON, b'{"message":"Bad Request"}')
_TOKEN = re.compile(r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$")
_FIELD_VALUE = re.compile(r"^[^\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]*$")  # latin-1, no controls
# Framing is the server's: a function's own Content-Length or Transfer-Encoding would contradict it.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
_NO_BODY = frozenset({204, 304})


def can_carry(headers: list[tuple[str, str]]) -> bool:
    """Whether HTTP/1.1 can carry these header names and values."""
    return all(_TOKEN.match(name) and _FIELD_VALUE.match(value) for name, value in headers)


def refusal(http_version: str, headers: list[tuple[str, str]]) -> HttpResponse | None:
    """API Gateway's 400 for a request this server must not serve (RFC 9112), else None."""
    if http_version not in ("1.0", "1.1"):
        return BAD_REQUEST
    hosts = sum(1 for name, _ in headers if name == "host")
    # RFC 9112 section 3.2: an HTTP/1.1 request lacking Host, or with more than one, is a 400.
    if hosts > 1 or (http_version == "1.1" and hosts == 0):
        return BAD_REQUEST
    return None


async def _read_body(receive: Receive, declared: str | None) -> bytes | None:
    """The request's body, or None when it is larger than API Gateway accepts."""
    if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        return None  # refused before it is read, as API Gateway does
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the client left before its request was complete")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class AsgiGateway:
    """The gateway as an ASGI application: one HTTP request in, API Gateway's response out."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (uvicorn runs with lifespan off, so only `http` scopes come)."""
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        http_version: str = scope["http_version"]
        refused = refusal(http_version, headers)
        if refused is not None:
            await _send(send, refused, method=scope["method"], close=True)
            return
        declared = next((value.strip() for name, value in headers if name == "content-length"), None)
        try:
            body = await _read_body(receive, declared)
        except ConnectionResetError:
            return
        if body is None:
            # The connection stays open: uvicorn reads the rest of the body and drops it, so a
            # client that sends the whole body before reading gets this answer, not a reset.
            await _send(send, TOO_LARGE, method=scope["method"], close=False)
            return
        query = scope["query_string"].decode("latin-1")
        target = scope["raw_path"].decode("latin-1") + (f"?{query}" if query else "")
        client = scope.get("client") or ("127.0.0.1", 0)
        server = scope.get("server") or ("127.0.0.1", 0)
        request = Request(scope["method"], target, headers, body, str(client[0]), http_version, int(server[1] or 0))
        response = await self.gateway.handle(request)
        if not can_carry(response.headers):
            response = INTERNAL_SERVER_ERROR  # header names or values HTTP cannot carry
        await _send(send, response, method=scope["method"], close=False)


async def _send(send: Send, response: HttpResponse, *, method: str, close: bool) -> None:
    headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers
        if name.lower() not in _FRAMING
    ]
    has_body = response.status not in _NO_BODY and response.status >= 200
    if has_body:
        headers.append((b"content-length", str(len(response.body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    body = response.body if has_body and method != "HEAD" else b""
    await send({"type": "http.response.body", "body": body})
