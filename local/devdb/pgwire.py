"""A PostgreSQL wire relay for tests and benchmarks: it records what clients send, counts round
trips, and breaks connections on cue.

The relay listens on a Unix socket of its own (`Relay.conninfo`) and forwards whole protocol
messages to the server or pooler of the conninfo it was given (Unix socket or TCP). It keeps
every message clients sent (`messages()`), so a test can check what went over the wire, and
counts the round trips the server answered (`round_trips`: its ReadyForQuery messages, one at the
end of each simple Query and each extended-protocol Sync, which a client without pipelining waits
for), so the benchmark counts them whatever the driver, patching none. It injects the faults a
network, a proxy or a failover causes, each on the next statement whose SQL matches (a
substring, or a predicate on the text of a simple Query or a Parse, such as
`statement_of(tasks_core.sql.GET_TASK)`):

- `lose_reply`: the statement reaches the server and runs to the end (in autocommit: commits);
  then the connection is closed before any of the reply reaches the client, which never learns
  the outcome.
- `cut`: the connection is closed as the statement is sent; it never runs.
- `stall`: the statement is swallowed and the connection kept open and silent, as a frozen
  server or a network partition leaves it.
- `cut_all()`: every open connection is closed now (a proxy or server dropping connections).

The relay declines TLS (it answers an SSLRequest with "N"): it must read the messages. Clients
reach it over a Unix socket, where libpq does not ask for TLS anyway.
"""

from __future__ import annotations

import os
import queue
import re
import selectors
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_INT32 = struct.Struct("!i")
_PROTOCOL_3 = 196608
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104

Match = str | Callable[[str], bool]
Action = Literal["lose_reply", "cut", "stall"]


def statement_of(template: str) -> Callable[[str], bool]:
    """A match for the statements made from `template` (SQL with `%(name)s` parameters, bound on
    the client side, as the repository's constants are), whatever the values."""
    parts = [re.escape(part) for part in re.split(r"%\(\w+\)s", template)]
    pattern = re.compile(".*?".join(parts), re.DOTALL)
    return lambda sql: pattern.fullmatch(sql) is not None


@dataclass(frozen=True)
class Message:
    """One protocol message: its type ("" for the client's untyped startup messages) and body."""

    kind: str
    body: bytes

    @property
    def sql(self) -> str | None:
        """The SQL of a simple Query or a Parse; None for other messages."""
        if self.kind == "Q":
            return self.body.rstrip(b"\0").decode("utf-8", "replace")
        if self.kind == "P":
            return self.body.split(b"\0", 2)[1].decode("utf-8", "replace")
        return None

    @property
    def statement_name(self) -> str | None:
        """The prepared statement a Parse creates or a Close closes ("" is the unnamed one)."""
        if self.kind == "P":
            return self.body.split(b"\0", 1)[0].decode("utf-8", "replace")
        if self.kind == "C" and self.body[:1] == b"S":
            return self.body[1:].split(b"\0", 1)[0].decode("utf-8", "replace")
        return None

    @property
    def startup_parameters(self) -> dict[str, str] | None:
        """The parameters of a startup message (user, database, options, ...); None otherwise."""
        if self.kind or len(self.body) < 4 or _INT32.unpack_from(self.body)[0] != _PROTOCOL_3:
            return None
        fields = self.body[4:].split(b"\0")
        parameters: dict[str, str] = {}
        for name, value in zip(fields[::2], fields[1::2], strict=False):
            if not name:
                break
            parameters[name.decode()] = value.decode("utf-8", "replace")
        return parameters

    @property
    def is_encryption_request(self) -> bool:
        """An SSLRequest or GSSENCRequest, which precede the startup message."""
        return not self.kind and len(self.body) == 4 and _INT32.unpack(self.body)[0] in (_SSL_REQUEST, _GSSENC_REQUEST)


class _Framer:
    """Splits one direction of a connection into whole messages."""

    def __init__(self, *, startup: bool) -> None:
        self._startup = startup  # client side before its startup message: untyped messages
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Message, bytes]]:
        """Add received bytes; return the messages now complete, each with its raw bytes."""
        self._buffer += data
        found: list[tuple[Message, bytes]] = []
        while True:
            header = 0 if self._startup else 1
            if len(self._buffer) < header + 4:
                return found
            length = _INT32.unpack_from(self._buffer, header)[0]
            if len(self._buffer) < header + length:
                return found
            raw = bytes(self._buffer[: header + length])
            del self._buffer[: header + length]
            message = Message(raw[:header].decode(), raw[header + 4 :])
            if self._startup and not message.is_encryption_request:
                self._startup = False
            found.append((message, raw))


@dataclass(eq=False)
class Fault:
    """A fault armed on the relay; `fired` counts the statements it has hit."""

    action: Action
    match: Match
    times: int
    fired: int = 0

    def matches(self, sql: str) -> bool:
        """Whether the fault applies to this statement."""
        return self.match in sql if isinstance(self.match, str) else self.match(sql)


@dataclass(eq=False)
class _Link:
    """One client connection and its connection upstream."""

    client: socket.socket
    server: socket.socket
    from_client: _Framer = field(default_factory=lambda: _Framer(startup=True))
    from_server: _Framer = field(default_factory=lambda: _Framer(startup=False))
    losing_reply: bool = False
    stalled: bool = False
    closed: bool = False


class Relay:
    """A recording, fault-injecting relay to the server of `conninfo`; a context manager."""

    def __init__(self, conninfo: str) -> None:
        params = conninfo_to_dict(conninfo)
        host = str(params.get("host") or "localhost")
        port = str(params.get("port") or "5432")
        self._upstream: str | tuple[str, int] = (
            str(Path(host) / f".s.PGSQL.{port}") if host.startswith("/") else (host, int(port))
        )
        self._folder = tempfile.mkdtemp(prefix="relay-")  # short: Unix socket paths are limited
        params.pop("hostaddr", None)
        self._params = {**params, "host": self._folder, "port": port}
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(Path(self._folder) / f".s.PGSQL.{port}"))
        self._listener.listen()
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._faults: list[Fault] = []
        self._links: list[_Link] = []
        self._accepted = 0
        self._round_trips = 0
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="pg-relay", daemon=True)

    @property
    def conninfo(self) -> str:
        """The same database, user and options, through the relay."""
        return make_conninfo("", **self._params)

    @property
    def connections(self) -> int:
        """How many client connections the relay has accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def round_trips(self) -> int:
        """How many ReadyForQuery messages the server has sent so far: a client's round trips."""
        with self._lock:
            return self._round_trips

    def messages(self) -> list[Message]:
        """Every message clients have sent so far, in order."""
        with self._lock:
            return list(self._messages)

    def statements(self) -> list[str]:
        """The SQL clients have sent so far (simple Queries and Parses), in order."""
        return [sql for message in self.messages() if (sql := message.sql) is not None]

    def lose_reply(self, match: Match, times: int = 1) -> Fault:
        """The next matching statement runs, and its connection closes before its reply is passed on."""
        return self._arm("lose_reply", match, times)

    def cut(self, match: Match, times: int = 1) -> Fault:
        """The connection of the next matching statement closes as it is sent; it never runs."""
        return self._arm("cut", match, times)

    def stall(self, match: Match, times: int = 1) -> Fault:
        """The next matching statement is swallowed; its connection stays open and silent."""
        return self._arm("stall", match, times)

    def cut_all(self) -> None:
        """Close every open connection now."""
        self._run_in_relay(self._close_all)

    def _arm(self, action: Action, match: Match, times: int) -> Fault:
        fault = Fault(action, match, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._run_in_relay(self._close_all)
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=10)
        self._listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        shutil.rmtree(self._folder, ignore_errors=True)

    def _run_in_relay(self, command: Callable[[], None]) -> None:
        """Run `command` on the relay's thread (which owns the sockets) and wait for it."""
        done = threading.Event()

        def run() -> None:
            try:
                command()
            finally:
                done.set()

        self._commands.put(run)
        os.write(self._wake_w, b"x")
        if not done.wait(timeout=10):
            raise RuntimeError("the relay's thread did not answer")

    def _serve(self) -> None:
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        while not self._stop:
            for key, _ in self._selector.select():
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    os.read(self._wake_r, 4096)
                    while not self._commands.empty():
                        self._commands.get()()
                else:
                    link, from_client = key.data
                    if not link.closed:
                        self._pump(link, from_client)
        self._selector.close()

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        try:
            server = self._connect_upstream()
        except OSError:
            client.close()  # as a server that is not there: the client sees the connection fail
            return
        link = _Link(client, server)
        self._links.append(link)
        with self._lock:
            self._accepted += 1
        self._selector.register(client, selectors.EVENT_READ, (link, True))
        self._selector.register(server, selectors.EVENT_READ, (link, False))

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self._upstream, tuple):
            return socket.create_connection(self._upstream)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.connect(self._upstream)
        except OSError:
            server.close()
            raise
        return server

    def _pump(self, link: _Link, from_client: bool) -> None:
        source = link.client if from_client else link.server
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(link)
        elif from_client:
            self._from_client(link, data)
        else:
            self._from_server(link, data)

    def _from_client(self, link: _Link, data: bytes) -> None:
        if link.stalled:
            return  # a frozen peer reads nothing and answers nothing
        for message, raw in link.from_client.feed(data):
            if link.closed:
                return
            with self._lock:
                self._messages.append(message)
                fault = self._fault_for(message)
            if message.is_encryption_request:
                link.client.sendall(b"N")
                continue
            if fault is None:
                self._send(link, link.server, raw)
            elif fault.action == "cut":
                self._close(link)
                return
            elif fault.action == "stall":
                link.stalled = True
                return
            else:
                self._send(link, link.server, raw)
                link.losing_reply = True

    def _from_server(self, link: _Link, data: bytes) -> None:
        passed = bytearray()
        for message, raw in link.from_server.feed(data):
            if message.kind == "Z":
                with self._lock:
                    self._round_trips += 1
            if link.stalled:
                return
            if link.losing_reply:
                if message.kind == "Z":  # the server is done: the reply is complete, and lost
                    self._close(link)
                    return
                continue
            passed += raw
        if passed:
            self._send(link, link.client, bytes(passed))

    def _fault_for(self, message: Message) -> Fault | None:
        sql = message.sql
        if sql is None:
            return None
        for fault in self._faults:
            if fault.fired < fault.times and fault.matches(sql):
                fault.fired += 1
                return fault
        return None

    def _send(self, link: _Link, target: socket.socket, data: bytes) -> None:
        try:
            target.sendall(data)
        except OSError:
            self._close(link)

    def _close(self, link: _Link) -> None:
        if link.closed:
            return
        link.closed = True
        for sock in (link.client, link.server):
            self._selector.unregister(sock)
            sock.close()
        self._links.remove(link)

    def _close_all(self) -> None:
        for link in list(self._links):
            self._close(link)
