"""`python -m bench.baselines.serve ARGS`: uvicorn's own command line, its listening socket with
TCP_NODELAY, so the lambdalith's connections are alike with one worker and with several.

With one worker uvicorn has asyncio create the socket (protocol IPPROTO_TCP), and asyncio sets
TCP_NODELAY on every connection it accepts. With `--workers N` uvicorn binds the socket itself
(`Config.bind_socket`: `socket.socket(AF_INET)`, protocol 0) and asyncio's check
(`base_events._set_nodelay`: protocol must be IPPROTO_TCP) skips it: each response's head and body
are separate writes, Nagle's algorithm holds the body until the head is acknowledged, and the
client delays that acknowledgement (40 ms on Linux). Linux gives an accepted connection the
listener's TCP_NODELAY, so setting it on the listener, before the workers start, is enough.
docs/performance.md has the measurements behind this.
"""

from __future__ import annotations

import socket
import sys

from uvicorn.config import Config
from uvicorn.main import main

_bind_socket = Config.bind_socket


def _bind_socket_without_nagle(config: Config) -> socket.socket:
    sock = _bind_socket(config)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


if __name__ == "__main__":
    Config.bind_socket = _bind_socket_without_nagle  # type: ignore[method-assign,assignment]
    sys.exit(main())
