"""The HTTP front end: API Gateway (HTTP API, payload 2.0) in front of the function pools.

Requests come from the HTTP server (`http_server`, uvicorn) through `asgi`, are routed
with the template's routes, turned into payload 2.0 events, and handed to the function's pool;
the function's result becomes the HTTP response by API Gateway's rules. What API Gateway
itself answers (unknown routes, CORS preflights, function errors, timeouts, oversized requests)
is answered here the same way.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate

from local.emulator.pool import FunctionPool, Status
from local.gateway import cors
from local.gateway.docs import ApiDocs
from local.gateway.jwt_auth import ApiAuth, JwtAuthorizer, TokenVerifier, Unauthorized, route_authorizer
from local.gateway.payload import HttpResponse, Router, build_event, to_http_response
from local.template import Cors, Function, Route, all_routes

JSON = [("content-type", "application/json")]
NOT_FOUND = HttpResponse(404, JSON, b'{"message":"Not Found"}')
INTERNAL_SERVER_ERROR = HttpResponse(500, JSON, b'{"message":"Internal Server Error"}')
SERVICE_UNAVAILABLE = HttpResponse(503, JSON, b'{"message":"Service Unavailable"}')
TOO_LARGE = HttpResponse(413, JSON, b'{"message":"Request Entity Too Large"}')
# What an HttpApi JWT authorizer answers for a missing, malformed, expired or foreign token.
UNAUTHORIZED = HttpResponse(
    401, [*JSON, ("www-authenticate", 'Bearer error="invalid_token"')], b'{"message":"Unauthorized"}'
)

# Set by API Gateway, whatever the client sent.
FORWARDED = frozenset({"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"})
# HTTP API accepts request bodies up to 10 MB; Lambda accepts events up to 6 MB.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_EVENT_BODY_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One HTTP request as the gateway received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    http_version: str
    port: int


@functools.lru_cache(maxsize=2)
def _date_of_second(second: int) -> str:
    return formatdate(second, usegmt=True)


def _http_date() -> str:
    return _date_of_second(int(time.time()))


def apigw_request_id() -> str:
    """An id in API Gateway's format (16 characters of base64)."""
    return base64.b64encode(os.urandom(11)).decode()


@dataclass(frozen=True)
class GatewayAuth:
    """The template's JWT authorizers and the keys their tokens are verified with."""

    apis: Mapping[str, ApiAuth]
    verifier: TokenVerifier

    def authorizer_for(self, route: Route) -> JwtAuthorizer | None:
        """The authorizer guarding a route, if any."""
        return route_authorizer(route, self.apis)


class Gateway:
    """Routes requests to the functions' pools, as API Gateway routes them to Lambda."""

    def __init__(
        self,
        functions: Mapping[str, Function],
        pools: Mapping[str, FunctionPool],
        cors_by_api: Mapping[str, Cors],
        docs: ApiDocs | None = None,
        auth: GatewayAuth | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.auth = auth
        self.pools = dict(pools)
        self.cors_by_api = dict(cors_by_api)
        self.docs = docs
        self.router = Router(all_routes(self.functions))
        self._routes = all_routes(self.functions)
        self._background: set[asyncio.Task[object]] = set()

    def _cors_for(self, raw_path: str) -> Cors | None:
        if not self.cors_by_api:
            return None
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            match = self.router.match(method, raw_path)
            if match is not None:
                return self.cors_by_api.get(match.route.api)
        # CORS is a setting of the API, not of a route: an unknown path of a lone API has it too.
        return next(iter(self.cors_by_api.values())) if len(self.cors_by_api) == 1 else None

    async def handle(self, request: Request) -> HttpResponse:
        """The response API Gateway would send for this request."""
        request_id = apigw_request_id()
        response = await self._respond(request, request_id)
        headers = [*response.headers, ("date", _http_date()), ("apigw-requestid", request_id)]
        return HttpResponse(response.status, headers, response.body)

    async def _respond(self, request: Request, request_id: str) -> HttpResponse:
        raw_path, _, raw_query = request.target.partition("?")
        first: dict[str, str] = {}
        for name, value in request.headers:
            first.setdefault(name, value)
        api_cors = self._cors_for(raw_path)
        if api_cors is not None and cors.is_preflight(request.method, first):
            return cors.preflight(api_cors, first)
        match = self.router.match(request.method, raw_path)
        if match is None:
            page = await self._docs_page(request.method, raw_path)
            response = page or NOT_FOUND
        elif len(request.body) > MAX_EVENT_BODY_BYTES:
            response = TOO_LARGE
        else:
            authorizer = self.auth.authorizer_for(match.route) if self.auth is not None else None
            if authorizer is not None and self.auth is not None:
                try:
                    context = self.auth.verifier.verify(first, authorizer)
                except Unauthorized:
                    return cors.apply(api_cors, first, UNAUTHORIZED) if api_cors is not None else UNAUTHORIZED
            else:
                context = None
            forwarded = self._forwarded_headers(request, first)
            event = build_event(
                method=request.method,
                raw_path=raw_path,
                raw_query=raw_query,
                headers=[*(pair for pair in request.headers if pair[0] not in FORWARDED), *forwarded],
                body=request.body,
                match=match,
                source_ip=request.source_ip,
                request_id=request_id,
                domain_name=first.get("host", "localhost").rsplit(":", 1)[0] or "localhost",
                protocol=f"HTTP/{request.http_version}",
                authorizer=context,
            )
            response = await self._integrate(match.route, event)
        return cors.apply(api_cors, first, response) if api_cors is not None else response

    @staticmethod
    def _forwarded_headers(request: Request, first: Mapping[str, str]) -> list[tuple[str, str]]:
        # API Gateway adds these (a proxy's X-Forwarded-For is extended with the client's address).
        client = first.get("x-forwarded-for")
        return [
            ("x-forwarded-for", f"{client}, {request.source_ip}" if client else request.source_ip),
            ("x-forwarded-port", str(request.port)),
            ("x-forwarded-proto", "http"),
        ]

    async def _docs_page(self, method: str, raw_path: str) -> HttpResponse | None:
        if self.docs is None:
            return None
        try:
            return await self.docs.respond(method, raw_path)
        except RuntimeError:
            return INTERNAL_SERVER_ERROR

    async def _integrate(self, route: Route, event: dict[str, object]) -> HttpResponse:
        pool = self.pools[route.function]
        integration_timeout = route.timeout_ms / 1000
        if integration_timeout > pool.function.timeout_s:
            outcome = await pool.invoke(event)  # the function's own timeout comes first
        else:
            # API Gateway stops waiting, while the function runs on to its own timeout.
            task = asyncio.ensure_future(pool.invoke(event))
            done, _ = await asyncio.wait({task}, timeout=integration_timeout)
            if not done:
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                return SERVICE_UNAVAILABLE
            outcome = task.result()
        if outcome.status is not Status.OK:
            return INTERNAL_SERVER_ERROR  # a function error, crash or timeout, as HTTP API reports it
        try:
            return to_http_response(outcome.result)
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
            return INTERNAL_SERVER_ERROR  # a malformed result is the integration's error
