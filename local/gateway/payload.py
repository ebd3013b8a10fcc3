"""API Gateway HTTP API payload format 2.0: requests into events, handler results into responses.

The events have the shape `sam local generate-event apigateway http-api-proxy` makes and that
API Gateway sends: lower-cased headers, comma-joined repeated query values, decoded path
parameters, cookies apart, text bodies as they are and binary ones base64-encoded.

Which bodies are text: API Gateway's documentation says only that a binary body is
base64-encoded; measured against a real HTTP API (ministackorg/ministack#766), a body is text only
under text/*, application/json, application/xml and application/javascript, and base64 under any
other Content-Type, none and application/x-www-form-urlencoded (curl -d) included. A text body
that is not valid UTF-8 cannot be put into the event's JSON as it is; it is passed base64-encoded
too, so the function sees the bytes the client sent (and the API rejects them), never U+FFFD.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from local.template import Route

_TEXT_TYPES = re.compile(r"^\s*(text/|application/(json|javascript|xml)\s*(;|$))", re.I)


@dataclass(frozen=True)
class RouteMatch:
    """A route and the path parameters the request gave it."""

    route: Route
    path_parameters: dict[str, str]


def _path_regex(path: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            pattern += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            pattern += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(f"^{pattern}$")


class Router:
    """Finds the route of a request as API Gateway does: exact paths before templates."""

    def __init__(self, routes: Iterable[Route]) -> None:
        def specificity(route: Route) -> tuple[int, int]:
            return (route.path.count("{"), -len(route.path))

        self._routes = [(route, _path_regex(route.path)) for route in sorted(routes, key=specificity)]

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The route for this method and (percent-encoded) path, or None."""
        for route, regex in self._routes:
            if route.method not in (method.upper(), "ANY"):
                continue
            found = regex.match(raw_path)
            if found:
                return RouteMatch(route, {name: unquote(value) for name, value in found.groupdict().items()})
        return None

    def path_is_known(self, raw_path: str) -> bool:
        """Whether any route (of any method) serves this path."""
        return any(regex.match(raw_path) for _, regex in self._routes)


def is_text(content_type: str | None) -> bool:
    """Whether API Gateway passes a body of this type as text rather than base64."""
    return content_type is not None and bool(_TEXT_TYPES.match(content_type))


def _as_text(body: bytes) -> str | None:
    """The body as text if it is valid UTF-8, else None."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str = "",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    match: RouteMatch | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "$default",
    request_id: str | None = None,
    domain_name: str = "localhost",
    protocol: str = "HTTP/1.1",
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A payload 2.0 event for one request."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())
    route_key = match.route.route_key if match else "$default"
    text = _as_text(body) if is_text(joined.get("content-type")) else None
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", maxsplit=1)[0],
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": bool(body) and text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if match and match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if authorizer:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    return event


@dataclass(frozen=True)
class HttpResponse:
    """What API Gateway sends back for a handler's result."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def to_http_response(result: Any) -> HttpResponse:
    """A handler's return value as API Gateway turns it into HTTP (payload 2.0 rules).

    A dict with `statusCode` is a full response; anything else is the body of a 200 with
    Content-Type application/json (a string is sent as it is, other values as JSON).
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("content-type", "application/json")], text.encode())
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    headers.extend(("set-cookie", cookie) for cookie in result.get("cookies") or [])
    raw_body = result.get("body") or ""
    body = base64.b64decode(raw_body) if result.get("isBase64Encoded") else str(raw_body).encode()
    if not any(name.lower() == "content-type" for name, _ in headers) and body:
        headers.append(("content-type", "application/json"))
    return HttpResponse(int(result["statusCode"]), headers, body)
