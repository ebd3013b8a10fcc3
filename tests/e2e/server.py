"""A real `python -m local serve` (or `make run`) in a subprocess, and an HTTP client for it."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.gateway.payload import HttpResponse
from local.template import PROJECT_ROOT
from tests.support.api import ApiMethods

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUNNING = re.compile(r"Running on http://([^:\s]+):(\d+)")


class LocalServer:
    """A server process started by a test; its output is kept in a file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.host = ""
        self.port = 0

    def log(self) -> str:
        """Everything the server (and its workers) wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_serving(self, timeout_s: float = 60.0) -> None:
        """Wait for the `Running on` line; fail with the log if the server exits or hangs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = RUNNING.search(self.log())
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.02)
        raise TimeoutError(f"server did not start:\n{self.log()}")

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        """Signal the server (its whole process group for SIGINT, as Ctrl-C does) and wait."""
        if self.process.poll() is None:
            if signum == signal.SIGINT:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)
        return self.process.wait(timeout_s)

    @property
    def base_url(self) -> str:
        """The server's URL."""
        return f"http://{self.host}:{self.port}"

    def api(self) -> HttpApi:
        """A client for this server."""
        return HttpApi(self.host, self.port)


@contextmanager
def local_server(
    log_path: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> Iterator[LocalServer]:
    """`python -m local serve --port 0 ARGS` (or `command`) until the block ends."""
    full_env = {**os.environ, **(env or {})}
    argv = list(command) if command else [sys.executable, "-m", "local", "serve", "--port", "0", *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LocalServer(process, log_path)
    try:
        server.wait_until_serving()
        yield server
    finally:
        if process.poll() is None:
            server.stop()


class HttpApi(ApiMethods):
    """The interface of tests.support.api.InProcessApi, over real HTTP to a local server."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """One HTTP request, on a connection of its own."""
        all_headers = {"content-type": "application/json", **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body)
        data = body.encode() if isinstance(body, str) else body
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            return HttpResponse(response.status, response.getheaders(), response.read())
        finally:
            connection.close()
