"""API Gateway's side: payload 2.0 events, responses, CORS, unknown routes and size limits."""

from __future__ import annotations

import base64
import http.client
import json
import re
from typing import Any

import pytest

from tests.e2e.server import HttpApi, LocalServer


def echoed(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.body
    seen: dict[str, Any] = response.json()
    return seen


def raw_request(server: LocalServer, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> Any:
    """A request with repeated headers, which dict-based clients cannot send."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


class TestEvent:
    def test_payload_2_0_fields(self, probe_server: LocalServer) -> None:
        headers = [
            ("User-Agent", "e2e-agent"),
            ("Cookie", "a=1; b=2"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Content-Type", "application/json"),
        ]
        response, data = raw_request(probe_server, "POST", "/echo/a/b%20c?x=1&x=2&y=&z=%20", headers, b'{"k": "v"}')
        assert response.status == 200, data
        event = json.loads(data)["event"]
        assert event["version"] == "2.0"
        assert event["routeKey"] == "ANY /echo/{proxy+}"
        assert event["rawPath"] == "/echo/a/b%20c"
        assert event["rawQueryString"] == "x=1&x=2&y=&z=%20"
        assert event["queryStringParameters"] == {"x": "1,2", "y": "", "z": " "}
        assert event["pathParameters"] == {"proxy": "a/b c"}
        assert event["cookies"] == ["a=1", "b=2"]
        assert event["headers"]["x-multi"] == "one,two"
        assert event["headers"]["user-agent"] == "e2e-agent"
        assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
        assert event["headers"]["x-forwarded-proto"] == "http"
        assert all(name == name.lower() for name in event["headers"])
        assert "cookie" not in event["headers"]
        assert event["body"] == '{"k": "v"}'
        assert event["isBase64Encoded"] is False
        context = event["requestContext"]
        assert context["requestId"] == response.getheader("apigw-requestid")
        assert context["http"] == {
            "method": "POST",
            "path": "/echo/a/b%20c",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "e2e-agent",
        }
        assert context["stage"] == "$default"
        assert context["domainName"] == "127.0.0.1"
        assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$", context["time"])
        assert isinstance(context["timeEpoch"], int)

    def test_binary_body_is_base64(self, probe: HttpApi) -> None:
        payload = bytes(range(256))
        event = echoed(probe.post("/echo/bin", body=payload, headers={"content-type": "application/octet-stream"}))[
            "event"
        ]
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == payload

    @pytest.mark.parametrize(
        ("content_type", "text"),
        [
            ("application/json", True),
            ("application/json; charset=utf-8", True),
            ("text/plain", True),
            ("application/xml", True),
            ("application/javascript", True),
            ("application/x-www-form-urlencoded", False),  # what curl -d sends
            ("application/problem+json", False),
            ("application/jsonl", False),
            (None, False),
        ],
    )
    def test_only_text_types_are_passed_as_text(self, probe: HttpApi, content_type: str | None, text: bool) -> None:
        connection = http.client.HTTPConnection(probe.host, probe.port, timeout=60)
        try:
            connection.putrequest("POST", "/echo/typed")
            if content_type:
                connection.putheader("Content-Type", content_type)
            connection.putheader("Content-Length", "10")
            connection.endheaders(b'{"k": "v"}')
            event = json.loads(connection.getresponse().read())["event"]
        finally:
            connection.close()
        assert event["isBase64Encoded"] is not text
        assert (event["body"] if text else base64.b64decode(event["body"])) == ('{"k": "v"}' if text else b'{"k": "v"}')

    def test_invalid_utf8_under_a_text_type_arrives_as_its_bytes(self, probe: HttpApi) -> None:
        payload = b'{"title":"\xff\xfe bad"}'
        event = echoed(probe.post("/echo/bad", body=payload, headers={"content-type": "application/json"}))["event"]
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == payload

    def test_forwarded_for_extends_a_proxys(self, probe: HttpApi) -> None:
        headers = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}
        event = echoed(probe.get("/echo/proxied", headers=headers))["event"]
        assert event["headers"]["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
        assert event["headers"]["x-forwarded-proto"] == "http"

    def test_no_body_no_query_no_cookies(self, probe: HttpApi) -> None:
        event = echoed(probe.get("/echo/plain"))["event"]
        for absent in ("body", "queryStringParameters", "cookies"):
            assert absent not in event
        assert event["isBase64Encoded"] is False


class TestResponse:
    def test_bare_object_is_a_json_200(self, probe: HttpApi) -> None:
        response = probe.get("/shape/object")
        assert (response.status, response.json()) == (200, {"a": 1})
        assert response.header("content-type") == "application/json"

    def test_bare_string_is_the_body(self, probe: HttpApi) -> None:
        response = probe.get("/shape/string")
        assert (response.status, response.body) == (200, b"plain text")

    def test_base64_body_is_sent_as_bytes(self, probe: HttpApi) -> None:
        response = probe.get("/shape/binary")
        assert response.body == b"\x89PNG\x00\xff"
        assert response.header("content-type") == "image/png"

    def test_cookies_become_set_cookie_headers(self, probe: HttpApi) -> None:
        response = probe.get("/shape/cookies")
        assert response.status == 201
        assert [value for name, value in response.headers if name.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]

    def test_malformed_results_are_500(self, probe: HttpApi) -> None:
        for kind in ("malformed", "unserializable", "bad-header"):
            response = probe.get(f"/shape/{kind}")
            assert (response.status, response.json()) == (500, {"message": "Internal Server Error"}), kind


class TestApiGatewayAnswers:
    def test_unknown_route_is_404(self, probe: HttpApi) -> None:
        for method, path in (("GET", "/nowhere"), ("POST", "/shape/object"), ("GET", "/echo")):
            response = probe.request(method, path)
            assert (response.status, response.json()) == (404, {"message": "Not Found"}), (method, path)

    def test_request_over_the_lambda_limit_is_413(self, probe: HttpApi) -> None:
        response = probe.post("/echo/big", body=b"x" * (6 * 1024 * 1024 + 1))
        assert (response.status, response.json()) == (413, {"message": "Request Entity Too Large"})

    def test_keep_alive_serves_many_requests_on_one_connection(self, probe_server: LocalServer) -> None:
        connection = http.client.HTTPConnection(probe_server.host, probe_server.port, timeout=30)
        for _ in range(3):
            connection.request("GET", "/shape/object")
            response = connection.getresponse()
            assert response.status == 200
            response.read()
        connection.close()


ORIGIN = "https://app.example.com"


class TestCors:
    def test_preflight_is_answered_by_the_gateway(self, probe: HttpApi) -> None:
        response = probe.request(
            "OPTIONS",
            "/echo/x",
            headers={"origin": ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "x"},
        )
        assert response.status == 204
        assert response.header("access-control-allow-origin") == ORIGIN
        assert response.header("access-control-allow-methods") == "GET,POST"
        assert response.header("access-control-allow-headers") == "content-type,authorization"
        assert response.header("access-control-max-age") == "600"
        assert response.header("access-control-allow-credentials") == "true"

    def test_preflight_of_another_origin_or_method_gets_no_cors_headers(self, probe: HttpApi) -> None:
        for origin, method in (("https://evil.example", "GET"), (ORIGIN, "DELETE")):
            response = probe.request(
                "OPTIONS", "/echo/x", headers={"origin": origin, "access-control-request-method": method}
            )
            assert response.status == 204
            assert response.header("access-control-allow-origin") is None

    def test_responses_carry_the_apis_cors_headers_not_the_functions(self, probe: HttpApi) -> None:
        response = probe.get("/echo/x", headers={"origin": ORIGIN})
        assert response.header("access-control-allow-origin") == ORIGIN
        assert response.header("access-control-expose-headers") == "x-probe"
        assert response.header("access-control-allow-credentials") == "true"
        # The function's own `access-control-allow-origin: *` is dropped, as API Gateway does.
        assert [name for name, _ in response.headers if name.lower() == "access-control-allow-origin"] == [
            "access-control-allow-origin"
        ]
        assert probe.get("/echo/x").header("access-control-allow-origin") is None
