"""The gateway's HTTP/1.1 reader and writer, on in-memory streams."""

from __future__ import annotations

import asyncio

import pytest

from local import http11


class _Writer:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


def parse(raw: bytes, max_bytes: int = 1024) -> tuple[http11.RequestHead | None, bytes, bytes]:
    """Head, body and what the server wrote back (100 Continue) for these bytes."""

    async def run() -> tuple[http11.RequestHead | None, bytes, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        writer = _Writer()
        head = await http11.read_head(reader)
        if head is None:
            return None, b"", writer.data
        body = await http11.read_body(head, reader, writer, max_bytes)
        return head, body, writer.data

    return asyncio.run(run())


def test_request_line_headers_and_length_framed_body() -> None:
    head, body, _ = parse(
        b"POST /a/b%20c?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a:  2 \r\nContent-Length: 3\r\n\r\nabcEXTRA"
    )
    assert head is not None
    assert (head.method, head.target, head.http_version) == ("POST", "/a/b%20c?x=1", "1.1")
    assert head.headers == [("host", "h"), ("x-a", "1"), ("x-a", "2"), ("content-length", "3")]
    assert body == b"abc"
    assert head.keep_alive


def test_chunked_body_with_extensions_and_trailers() -> None:
    raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
    assert parse(raw)[1] == b"abcde"


def test_expect_100_continue_is_answered_before_the_body() -> None:
    _, body, written = parse(b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")
    assert (body, written) == (b"ok", b"HTTP/1.1 100 Continue\r\n\r\n")


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [("1.1", None, True), ("1.1", "close", False), ("1.0", None, False), ("1.0", "keep-alive", True)],
)
def test_keep_alive_rules(version: str, connection: str | None, keep_alive: bool) -> None:
    extra = f"Connection: {connection}\r\n" if connection else ""
    head, _, _ = parse(f"GET / HTTP/{version}\r\n{extra}\r\n".encode())
    assert head is not None
    assert head.keep_alive is keep_alive


def test_closed_connection_between_requests_is_not_an_error() -> None:
    assert parse(b"")[0] is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /\r\n\r\n", 400),  # HTTP/0.9
        (b"GET / HTTP/2.0\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),  # smuggling
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 400),  # cut short
        (b"POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + b"x" * 2000 + b"\r\n0\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\nHost: x", 400),  # no end of head
    ],
)
def test_malformed_requests_are_refused(raw: bytes, status: int) -> None:
    with pytest.raises(http11.BadRequest) as refused:
        parse(raw)
    assert refused.value.status == status


def test_response_is_framed_by_content_length() -> None:
    data = http11.encode_response(201, [("a", "1")], b"body", keep_alive=True)
    assert data == b"HTTP/1.1 201 Created\r\na: 1\r\ncontent-length: 4\r\n\r\nbody"
    closing = http11.encode_response(200, [], b"x", keep_alive=False, head=True)
    assert closing == b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\n"
    assert http11.encode_response(204, [], b"", keep_alive=True) == b"HTTP/1.1 204 No Content\r\n\r\n"


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ([("x-a", "plain value")], True),
        ([("x-a", "caf\u00e9")], True),
        ([("x-a", "line\r\nbreak")], False),
        ([("bad name", "v")], False),
        ([("x-a", "\u2603")], False),
    ],
)
def test_headers_http_can_carry(headers: list[tuple[str, str]], ok: bool) -> None:
    assert http11.can_carry(headers) is ok
