"""A real `python -m local serve` (or `make run`) in a subprocess, and an HTTP client for it."""

from __future__ import annotations

import http.client
from collections.abc import Mapping, Sequence
from pathlib import Path

from local.gateway.payload import HttpResponse
from local.server_process import ServerProcess, serve_command
from tests.support.api import ApiMethods

FIXTURES = Path(__file__).resolve().parent / "fixtures"


class LocalServer(ServerProcess):
    """A server process started by a test, with a client for it; its output is kept in a file."""

    def api(self) -> HttpApi:
        """A client for this server."""
        return HttpApi(self.host, self.port)


def local_server(
    log_path: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> LocalServer:
    """`python -m local serve --port 0 ARGS` (or `command`), started and stopped by a `with` block."""
    return LocalServer(command or serve_command(*args), log_path, env=env, timeout_s=60.0)


class HttpApi(ApiMethods):
    """The interface of tests.support.api.InProcessApi, over real HTTP to a local server."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> HttpResponse:
        """One HTTP request, on a connection of its own."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return HttpResponse(response.status, response.getheaders(), response.read())
        finally:
            connection.close()
