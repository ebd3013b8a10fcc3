"""The gateway's HTTP server: uvicorn's httptools protocol (llhttp, in C) in the runtime's own event
loop, with the two timeouts uvicorn lacks.

uvicorn closes a kept-alive connection that stays idle after a response (`timeout_keep_alive`),
but not a connection that never sends a request, nor one that sends part of a request and then
waits (asked for in uvicorn issue #157 in 2018; 0.54 has neither): each would hold a
connection forever. Here a request must start within `idle_s` of the connection opening (or of
the previous response) and arrive whole, head and body, within `request_s` of its first byte;
otherwise the connection is closed.
Why uvicorn, the figures and the timeouts' values: docs/local-gateway.md.

`uvicorn.Server` owns signals and a lifespan and is meant to run the process; the runtime already
does both, so this module listens with asyncio itself and uses the protocol class uvicorn
documents as pluggable (`Config(http=...)`). It relies on these undocumented parts of uvicorn,
which is one reason uvicorn is pinned exactly in requirements-dev.txt:

- `HttpToolsProtocol` (uvicorn.protocols.http.httptools_impl) and its constructor's keywords
  `config`, `server_state` and `app_state`: how `uvicorn.Server` builds a connection;
- `ServerState` (uvicorn.server) and its `connections` and `tasks` sets, and each connection's
  `shutdown()`: how `uvicorn.Server.shutdown` closes idle connections and lets busy ones finish;
- `on_message_begin` and `on_message_complete`: httptools' documented parser callbacks, which
  uvicorn's protocol implements; extended here through `super()`, never replaced.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from local.gateway.asgi import AsgiGateway
from local.gateway.dispatch import Gateway

# At shutdown, requests in flight get this long (their workers are being stopped meanwhile).
SHUTDOWN_GRACE_S = 5.0


@dataclass(frozen=True)
class Timeouts:
    """How long the server waits for clients, in seconds."""

    # A connection with no request in progress: a new one, or a kept-alive one after a response.
    idle_s: float = 5.0
    # From a request's first byte until all of it (head and body) has arrived.
    request_s: float = 30.0


class _TimedProtocol(HttpToolsProtocol):
    """uvicorn's protocol, closing connections whose request does not start or finish in time."""

    def __init__(self, timeouts: Timeouts, **uvicorn_arguments: Any) -> None:
        super().__init__(**uvicorn_arguments)
        self.timeouts = timeouts
        self._deadline: asyncio.TimerHandle | None = None
        self._own_transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Serve the connection; close it if no request starts within the idle timeout."""
        super().connection_made(transport)
        self._own_transport = transport
        self._arm(self.timeouts.idle_s)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A request's first byte: all of it must arrive within the request timeout."""
        super().on_message_begin()
        self._arm(self.timeouts.request_s)

    def on_message_complete(self) -> None:
        """The request arrived whole: no deadline while it is answered (then uvicorn's keep-alive)."""
        super().on_message_complete()
        self._disarm()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._own_transport is not None and not self._own_transport.is_closing():
            self._own_transport.close()


class HttpServer:
    """uvicorn's HTTP/1.1 protocol serving a gateway on one address, in the running event loop."""

    def __init__(self, gateway: Gateway, host: str, port: int, timeouts: Timeouts) -> None:
        self.host = host
        self.port = port
        self._config = uvicorn.Config(
            AsgiGateway(gateway),
            ws="none",
            lifespan="off",
            interface="asgi3",
            # The gateway sets Date and API Gateway's headers; uvicorn adds none of its own.
            server_header=False,
            date_header=False,
            # X-Forwarded-For is the function's to read (the gateway extends it, as API Gateway does).
            proxy_headers=False,
            log_config=None,
            log_level="error",
            access_log=False,
            timeout_keep_alive=timeouts.idle_s,  # type: ignore[arg-type]  # annotated int, used as a delay
        )
        self._config.load()
        self._timeouts = timeouts
        self._state = ServerState()
        self._server: asyncio.Server | None = None

    def _connection(self) -> asyncio.Protocol:
        return _TimedProtocol(self._timeouts, config=self._config, server_state=self._state, app_state={})

    async def start(self) -> int:
        """Listen and serve; the port listened on (the one the system chose when asked for 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, self.host, self.port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, close idle connections, and give requests in flight a bounded time."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._state.connections):
            connection.shutdown()  # idle: closed now; busy: closed after its response
        if self._state.tasks:
            await asyncio.wait(set(self._state.tasks), timeout=SHUTDOWN_GRACE_S)
        for task in self._state.tasks:
            task.cancel()
