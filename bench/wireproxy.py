"""Counting round trips on the wire: a PostgreSQL protocol relay between a client and the server.

The relay listens on a Unix socket of its own and forwards every byte both ways, reading the
message boundaries of the protocol as it goes. A round trip is one ReadyForQuery ('Z') the
server sends: the server sends exactly one at the end of each simple Query and each extended-
protocol Sync, and a client without pipelining (psycopg outside pipeline mode, asyncpg,
SQLAlchemy on either) waits for it before it sends the next statement. So separate BEGIN and
COMMIT, a prepare (Parse/Describe/Sync before Bind/Execute/Sync) and a SELECT before an UPDATE
each count, whatever the driver; nothing on the client is patched. The client's messages are
counted by type too (Q simple query; P/B/D/E/S parse, bind, describe, execute, sync).
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_INT32 = struct.Struct("!i")
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


@dataclass
class _Stream:
    """Message framing of one direction of one connection."""

    startup: bool  # client side, before its startup message: untyped messages
    buffer: bytearray = field(default_factory=bytearray)
    single_bytes: int = 0  # server side: one-byte answers owed to SSL/GSS requests

    def messages(self, data: bytes) -> list[bytes]:
        """Append data; return the type bytes of the messages now complete (b"" for untyped)."""
        self.buffer += data
        found: list[bytes] = []
        while True:
            if self.single_bytes and self.buffer:
                del self.buffer[:1]
                self.single_bytes -= 1
                continue
            if self.startup:
                if len(self.buffer) < 8:
                    return found
                length = _INT32.unpack_from(self.buffer)[0]
                if len(self.buffer) < length:
                    return found
                code = _INT32.unpack_from(self.buffer, 4)[0]
                del self.buffer[:length]
                found.append(b"")
                if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                    found.append(b"?")  # the server answers with one byte
                else:
                    self.startup = False
                continue
            if len(self.buffer) < 5:
                return found
            length = _INT32.unpack_from(self.buffer, 1)[0]
            if len(self.buffer) < 1 + length:
                return found
            found.append(bytes(self.buffer[:1]))
            del self.buffer[: 1 + length]


@dataclass
class Counts:
    """What crossed the wire: round trips, and the client's messages by type."""

    round_trips: int = 0
    client_messages: Counter[str] = field(default_factory=Counter)

    def minus(self, before: Counts) -> Counts:
        """The counts since `before`."""
        return Counts(self.round_trips - before.round_trips, self.client_messages - before.client_messages)


class WireCounter:
    """A relay to the server of `conninfo` (Unix socket) that counts round trips; a context manager."""

    def __init__(self, conninfo: str) -> None:
        params = conninfo_to_dict(conninfo)
        host = str(params.get("host", ""))
        if not host.startswith("/"):
            raise ValueError("the wire counter relays a Unix socket server (host=/folder)")
        port = str(params.get("port") or "5432")
        self._server_path = str(Path(host) / f".s.PGSQL.{port}")
        self._folder = tempfile.mkdtemp(prefix="wire-")  # short: Unix socket paths are limited
        self._params = {**params, "host": self._folder, "port": port}
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(Path(self._folder) / f".s.PGSQL.{port}"))
        self._listener.listen()
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._counts = Counts()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="wire-counter", daemon=True)

    @property
    def conninfo(self) -> str:
        """A connection string for the same database through the relay."""
        return make_conninfo("", **self._params)

    def counts(self) -> Counts:
        """A snapshot of the totals so far."""
        with self._lock:
            return Counts(self._counts.round_trips, Counter(self._counts.client_messages))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        self._listener.close()
        os.close(self._stop_r)
        os.close(self._stop_w)
        for entry in Path(self._folder).iterdir():
            entry.unlink()
        os.rmdir(self._folder)

    def _serve(self) -> None:
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._stop_r, selectors.EVENT_READ, "stop")
        while True:
            for key, _ in self._selector.select():
                if key.data == "stop":
                    self._close_all()
                    return
                if key.data is None:
                    self._accept()
                else:
                    self._relay(key.fileobj, *key.data)  # type: ignore[arg-type]

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self._server_path)
        client_stream, server_stream = _Stream(startup=True), _Stream(startup=False)
        self._selector.register(client, selectors.EVENT_READ, (upstream, client_stream, server_stream, True))
        self._selector.register(upstream, selectors.EVENT_READ, (client, server_stream, client_stream, False))

    def _relay(
        self, source: socket.socket, target: socket.socket, stream: _Stream, other: _Stream, from_client: bool
    ) -> None:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        if not data:
            for sock in (source, target):
                self._selector.unregister(sock)
                sock.close()
            return
        kinds = stream.messages(data)
        with self._lock:
            for kind in kinds:
                if from_client:
                    if kind == b"?":
                        other.single_bytes += 1
                    elif kind:
                        self._counts.client_messages[kind.decode()] += 1
                elif kind == b"Z":
                    self._counts.round_trips += 1
        target.sendall(data)

    def _close_all(self) -> None:
        for key in list(self._selector.get_map().values()):
            if isinstance(key.fileobj, socket.socket) and key.fileobj is not self._listener:
                key.fileobj.close()
        self._selector.close()
