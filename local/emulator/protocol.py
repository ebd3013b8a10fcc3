"""Messages between the gateway and a worker: length-prefixed JSON over a socket pair.

A 4-byte big-endian length, then that many bytes of UTF-8 JSON. One request, one reply, in
turn: a worker serves one invocation at a time, as a Lambda execution environment does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

_LENGTH = struct.Struct(">I")


def encode(message: Any) -> bytes:
    """The message framed for the wire."""
    data = json.dumps(message, separators=(",", ":")).encode()
    return _LENGTH.pack(len(data)) + data


def send(sock: socket.socket, message: Any) -> None:
    """Send one message on a blocking socket."""
    sock.sendall(encode(message))


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> Any:
    """Receive one message on a blocking socket; EOFError when the peer has gone."""
    (size,) = _LENGTH.unpack(_receive_exactly(sock, _LENGTH.size))
    return json.loads(_receive_exactly(sock, size))


def decode_frames(buffer: bytes) -> tuple[list[Any], bytes]:
    """The whole messages at the start of `buffer`, and the bytes of the next, incomplete one."""
    messages = []
    while len(buffer) >= _LENGTH.size:
        (size,) = _LENGTH.unpack_from(buffer)
        end = _LENGTH.size + size
        if len(buffer) < end:
            break
        messages.append(json.loads(buffer[_LENGTH.size : end]))
        buffer = buffer[end:]
    return messages, buffer


async def receive_async(reader: asyncio.StreamReader) -> tuple[Any, int]:
    """Receive one message and its size in bytes; IncompleteReadError when the peer has gone."""
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return json.loads(await reader.readexactly(size)), size
