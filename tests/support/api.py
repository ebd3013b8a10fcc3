"""The functions of template.yaml invoked in-process with payload 2.0 events, as API Gateway would."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from local.emulator.context import LambdaContext
from local.emulator.loader import load_handler
from local.gateway.payload import HttpResponse, Router, build_event, to_http_response
from local.template import Function, all_routes

NOT_FOUND = HttpResponse(404, [("content-type", "application/json")], b'{"message":"Not Found"}')


class ApiMethods:
    """One method per HTTP verb over `request`, which sends through a client's `send`."""

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """One HTTP request: a JSON body (or the body as given), Content-Type JSON unless given."""
        all_headers = {"content-type": "application/json", **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body)
        data = body.encode() if isinstance(body, str) else body
        return self.send(method, path, data, all_headers)

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> HttpResponse:
        """Send one request as it is; what the client implements."""
        raise NotImplementedError

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> HttpResponse:
        """POST with a JSON body."""
        return self.request("POST", path, json_body=json_body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        """GET."""
        return self.request("GET", path, **kwargs)

    def put(self, path: str, json_body: Any = None, **kwargs: Any) -> HttpResponse:
        """PUT with a JSON body."""
        return self.request("PUT", path, json_body=json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> HttpResponse:
        """PATCH with a JSON body."""
        return self.request("PATCH", path, json_body=json_body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> HttpResponse:
        """DELETE."""
        return self.request("DELETE", path, **kwargs)


class InProcessApi(ApiMethods):
    """Routes requests to the template's functions and calls their handlers in this process."""

    def __init__(self, functions: Mapping[str, Function]) -> None:
        self.functions = dict(functions)
        self.router = Router(all_routes(self.functions))

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Call one function's handler with an event and a fresh context."""
        function = self.functions[logical_id]
        context = LambdaContext(function.logical_id, function.memory_mb, function.timeout_s)
        return load_handler(function)(event, context)

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> HttpResponse:
        """One HTTP request through the routes of the template."""
        raw_path, _, raw_query = path.partition("?")
        match = self.router.match(method, raw_path)
        if match is None:
            return NOT_FOUND
        event = build_event(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=list(headers.items()),
            body=body or b"",
            match=match,
        )
        return to_http_response(self.invoke(match.route.function, event))
