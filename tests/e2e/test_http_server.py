"""The gateway's HTTP/1.1 server over raw sockets: what a client may send, how connections are
framed, kept and closed, and the timeouts for idle connections and half-sent requests.

The server here runs the fixture template with short timeouts (IDLE_S, REQUEST_S), so that
waiting for them costs seconds. Elapsed times are checked against generous bounds that only
prove the connection was closed by the timeout: not before it, and not never.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from local.devdb.database import scratch_database
from local.gateway.dispatch import MAX_REQUEST_BYTES
from local.gateway.payload import HttpResponse
from tests.e2e.server import FIXTURES, LocalServer, local_server

IDLE_S = 1.0
REQUEST_S = 2.0
SLACK_S = 15.0  # a busy machine may be late to close; it must not be never


@pytest.fixture(scope="module")
def server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The fixture template, served with short timeouts."""
    folder = tmp_path_factory.mktemp("http-server")
    args = ["--template", str(FIXTURES / "template.yaml"), "--no-reload"]
    args += ["--idle-timeout", str(IDLE_S), "--request-timeout", str(REQUEST_S)]
    with (
        scratch_database(server_url, prefix="tasks_http") as url,
        local_server(folder / "server.log", args, env={"DATABASE_URL": url}) as running,
    ):
        yield running


class Client:
    """One TCP connection that sends bytes as given and reads responses as they come."""

    def __init__(self, server: LocalServer) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=30)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def response(self, *, head_request: bool = False) -> HttpResponse:
        """The next response (its body by Content-Length; none for HEAD, 1xx, 204 and 304)."""
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"closed before a response: {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        assert status_line.startswith("HTTP/1.1 "), status_line
        headers = [(name.lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
        length = int(next((value for name, value in headers if name == "content-length"), "0"))
        if head_request or status < 200 or status in (204, 304):
            length = 0
        while len(self.buffer) < length:
            assert self._fill(), "closed in the middle of a body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return HttpResponse(status, headers, body)

    def closed_by_server(self) -> bool:
        """Whether the server closes the connection (with nothing more sent) within the socket timeout."""
        try:
            return not self._fill() and not self.buffer
        except ConnectionResetError:
            return True

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


@pytest.fixture
def client(server: LocalServer) -> Iterator[Client]:
    """A fresh connection to the server."""
    connection = Client(server)
    yield connection
    connection.close()


def get(path: str, *headers: str, version: str = "1.1") -> bytes:
    """A GET request's bytes, with these header lines."""
    lines = [f"GET {path} HTTP/{version}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def echoed_event(response: HttpResponse) -> dict[str, object]:
    """The event the echo function received."""
    assert response.status == 200, response.body
    event: dict[str, object] = json.loads(response.body)["event"]
    return event


class TestHost:
    """RFC 9112, section 3.2: exactly one Host in an HTTP/1.1 request."""

    def test_http_1_1_without_host_is_400(self, client: Client) -> None:
        client.send(get("/shape/object"))
        response = client.response()
        assert (response.status, json.loads(response.body)) == (400, {"message": "Bad Request"})
        assert response.header("connection") == "close"
        assert client.closed_by_server()

    def test_two_hosts_are_400(self, client: Client) -> None:
        client.send(get("/shape/object", "Host: a", "Host: b"))
        assert client.response().status == 400

    def test_http_1_0_needs_no_host(self, client: Client) -> None:
        client.send(get("/shape/object", version="1.0"))
        response = client.response()
        assert (response.status, json.loads(response.body)) == (200, {"a": 1})


class TestHeaderValues:
    @pytest.mark.parametrize("control", [b"\x00", b"\x01", b"\x1f", b"\x7f"])
    def test_control_characters_in_a_value_are_400(self, client: Client, control: bytes) -> None:
        client.send(b"GET /echo/x HTTP/1.1\r\nHost: h\r\nX-A: a" + control + b"b\r\n\r\n")
        assert client.response().status == 400
        assert client.closed_by_server()

    def test_latin_1_values_and_tabs_reach_the_function(self, client: Client) -> None:
        client.send(b"GET /echo/x HTTP/1.1\r\nHost: h\r\nX-A: caf\xe9\tau lait\r\n\r\n")
        headers = echoed_event(client.response())["headers"]
        assert isinstance(headers, dict)
        assert headers["x-a"] == "caf\u00e9\tau lait"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"GET /shape/object\r\n\r\n", id="HTTP/0.9"),
        pytest.param(b"GET /shape/object HTTP/2.0\r\nHost: h\r\n\r\n", id="HTTP/2.0 over HTTP/1"),
        pytest.param(b"GET /shape/object HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n", id="space in a name"),
        pytest.param(b"GET /shape/object HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n", id="folded line"),
        pytest.param(
            b"POST /echo/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            id="both framings",
        ),
        pytest.param(
            b"POST /echo/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            id="two lengths",
        ),
        pytest.param(b"POST /echo/x HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", id="negative length"),
        # RFC 9112, section 6.3: a request whose last transfer coding is not chunked is a 400.
        pytest.param(b"POST /echo/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", id="not chunked"),
        pytest.param(b"POST /echo/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad chunk"),
    ],
)
def test_malformed_requests_are_400_and_closed(client: Client, raw: bytes) -> None:
    client.send(raw)
    assert client.response().status == 400
    assert client.closed_by_server()


class TestBodies:
    def test_chunked_body_with_extensions_and_trailers(self, client: Client) -> None:
        client.send(
            b"POST /echo/x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
        )
        assert echoed_event(client.response())["body"] == "abcde"

    def test_expect_100_continue_is_answered_before_the_body(self, client: Client) -> None:
        client.send(b"PUT /echo/x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n")
        client.send(b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        assert client.response().status == 100
        client.send(b"ok")
        assert echoed_event(client.response())["body"] == "ok"

    def test_declared_length_over_the_limit_is_413_before_the_body(self, client: Client) -> None:
        client.send(f"POST /echo/x HTTP/1.1\r\nHost: h\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n".encode())
        response = client.response()
        assert (response.status, json.loads(response.body)) == (413, {"message": "Request Entity Too Large"})

    def test_chunked_body_over_the_limit_is_413_and_the_connection_serves_on(self, client: Client) -> None:
        client.send(b"POST /echo/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * (1024 * 1024)
        for _ in range(MAX_REQUEST_BYTES // len(chunk) + 1):
            client.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        client.send(b"0\r\n\r\n")
        response = client.response()
        assert (response.status, json.loads(response.body)) == (413, {"message": "Request Entity Too Large"})
        # The rest of the body was read and dropped, so a client that sends it all first still
        # gets its answer, and the connection stays usable.
        client.send(get("/shape/object", "Host: h"))
        assert client.response().status == 200


class TestConnections:
    def test_http_1_1_keeps_the_connection_alive(self, client: Client) -> None:
        for _ in range(3):
            client.send(get("/shape/object", "Host: h"))
            response = client.response()
            assert (response.status, response.header("connection")) == (200, None)

    def test_pipelined_requests_are_answered_in_order(self, client: Client) -> None:
        client.send(get("/shape/string", "Host: h") + get("/shape/object", "Host: h"))
        assert client.response().body == b"plain text"
        assert json.loads(client.response().body) == {"a": 1}

    @pytest.mark.parametrize(
        ("version", "connection"),
        [("1.1", "Connection: close"), ("1.0", None), ("1.0", "Connection: keep-alive")],
    )
    def test_connections_that_end_after_one_response(
        self, client: Client, version: str, connection: str | None
    ) -> None:
        # HTTP/1.0 keep-alive is not offered: uvicorn closes every HTTP/1.0 connection.
        client.send(get("/shape/object", "Host: h", *([connection] if connection else []), version=version))
        response = client.response()
        assert (response.status, response.header("connection")) == (200, "close")
        assert client.closed_by_server()

    def test_a_client_closing_between_requests_is_no_error(self, server: LocalServer, client: Client) -> None:
        client.send(get("/shape/object", "Host: h"))
        assert client.response().status == 200
        client.close()
        other = Client(server)
        other.send(get("/shape/object", "Host: h"))
        assert other.response().status == 200
        other.close()

    def test_responses_are_framed_by_content_length(self, client: Client) -> None:
        client.send(get("/shape/object", "Host: h"))
        response = client.response()
        assert response.header("content-length") == str(len(response.body)) == "8"
        assert response.header("transfer-encoding") is None

    def test_head_has_the_length_and_no_body(self, client: Client) -> None:
        client.send(b"HEAD /echo/x HTTP/1.1\r\nHost: h\r\n\r\n")
        response = client.response(head_request=True)
        assert response.status == 200
        assert int(response.header("content-length") or 0) > 0
        client.send(get("/shape/object", "Host: h"))  # nothing of a body came before this answer
        assert json.loads(client.response().body) == {"a": 1}

    def test_204_has_no_length(self, client: Client) -> None:
        client.send(
            b"OPTIONS /echo/x HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com\r\n"
            b"Access-Control-Request-Method: POST\r\n\r\n"
        )
        response = client.response()
        assert (response.status, response.header("content-length"), response.body) == (204, None, b"")

    def test_a_functions_framing_headers_are_replaced(self, client: Client) -> None:
        client.send(get("/shape/framing-headers", "Host: h"))
        response = client.response()
        assert (response.status, response.body, response.header("content-length")) == (200, b"ok", "2")
        assert response.header("transfer-encoding") is None
        assert response.header("connection") is None


def _closed_after(client: Client) -> float:
    started = time.monotonic()
    assert client.closed_by_server()
    return time.monotonic() - started


class TestTimeouts:
    def test_a_new_connection_without_a_request_is_closed(self, client: Client) -> None:
        assert IDLE_S * 0.9 <= _closed_after(client) < IDLE_S + SLACK_S

    def test_a_kept_alive_connection_is_closed_when_idle(self, client: Client) -> None:
        client.send(get("/shape/object", "Host: h"))
        assert client.response().status == 200
        assert IDLE_S * 0.9 <= _closed_after(client) < IDLE_S + SLACK_S

    def test_a_half_sent_head_is_closed(self, client: Client) -> None:
        client.send(b"GET /shape/object HTTP/1.1\r\nHost: h\r\n")
        assert REQUEST_S * 0.9 <= _closed_after(client) < REQUEST_S + SLACK_S

    def test_a_half_sent_body_is_closed(self, client: Client) -> None:
        client.send(b"POST /echo/x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        assert REQUEST_S * 0.9 <= _closed_after(client) < REQUEST_S + SLACK_S

    def test_a_trickled_request_is_closed_when_its_time_is_up(self, client: Client) -> None:
        started = time.monotonic()
        client.send(b"GET /shape/object HTTP/1.1\r\n")
        for _ in range(int((REQUEST_S + SLACK_S) * 4)):  # a byte every quarter second, never a whole head
            time.sleep(0.25)
            try:
                client.send(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break
        assert client.closed_by_server()
        assert REQUEST_S * 0.9 <= time.monotonic() - started < REQUEST_S + SLACK_S

    def test_a_slow_function_is_not_a_slow_client(self, client: Client) -> None:
        seconds = REQUEST_S + IDLE_S  # longer than either timeout
        client.send(get(f"/sleep/{seconds}", "Host: h"))
        response = client.response()
        assert response.status == 200, response.body
        assert set(json.loads(response.body)) == {"pid", "aws_request_id"}
