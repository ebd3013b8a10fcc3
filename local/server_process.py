"""A server in a child process, for the tests and the benchmarks: start it, wait until it
serves, stop it.

`python -m local serve` and `make run` print `Running on http://HOST:PORT` once they listen
(local/server.py), so they start on port 0 and the port is read from that line. A server that
prints no such line (uvicorn serving the benchmark's baseline) is given a free port and is ready
once a path of it answers 200.

It lives here, not in tests/, because the benchmarks use it too and depend on local/ only.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from local.template import PROJECT_ROOT

RUNNING = re.compile(r"Running on http://([^:\s]+):(\d+)")
HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now (the system's pick), for a server that is told its port."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve_command(*args: str) -> list[str]:
    """`python -m local serve` on a port of the system's choosing, with these flags."""
    return [sys.executable, "-m", "local", "serve", "--port", "0", *args]


class ServerProcess:
    """A server process in a process group of its own, its output in a log file.

    As a context manager it starts the server, waits until it serves and stops it at the end.
    """

    def __init__(
        self,
        command: Sequence[str],
        log_path: Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path = PROJECT_ROOT,
        port: int | None = None,
        ready_path: str = "/health",
        timeout_s: float = 90.0,
    ) -> None:
        self.command = list(command)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.ready_path = ready_path
        self.timeout_s = timeout_s
        # Told its port: it serves on this host; else the port comes from its `Running on` line.
        self.host, self.port = (HOST, port) if port else ("", 0)
        self.log_path = log_path
        self._own_log = log_path is None
        self._process: subprocess.Popen[bytes] | None = None
        self.started = 0.0  # perf_counter at the spawn
        self.ready_s = 0.0  # from the spawn until it served

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The server's process (its group has the same id)."""
        if self._process is None:
            raise RuntimeError("the server has not been started")
        return self._process

    def start(self) -> None:
        """Spawn the server in a new session, so its whole group can be signalled."""
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="server-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        with self.log_path.open("wb") as log:
            self.started = time.perf_counter()
            self._process = subprocess.Popen(  # noqa: S603  # commands the tests and benchmarks build
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        """Everything the server (and its workers) wrote so far."""
        if self.log_path is None:
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_serving(self) -> None:
        """Wait until it serves; fail with its log if it exits first or takes longer than timeout_s."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._serving():
                self.ready_s = time.perf_counter() - self.started
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[:4]} exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.01)
        raise TimeoutError(f"{self.command[:4]} did not serve within {self.timeout_s:g} s:\n{self.log()}")

    def _serving(self) -> bool:
        if not self.port:
            found = RUNNING.search(self.log())
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
            return found is not None
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}{self.ready_path}", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:  # not listening yet, or an error status
            return False

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        """Signal the server (its whole process group for SIGINT, as Ctrl-C does) and wait; its exit code."""
        if self.process.poll() is None:
            if signum == signal.SIGINT:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)
        return self.process.wait(timeout_s)

    def close(self) -> None:
        """Stop the server if it still runs; one that does not stop in time is killed with its group."""
        try:
            if self._process is not None and self._process.poll() is None:
                try:
                    self.stop()
                except subprocess.TimeoutExpired:
                    os.killpg(self._process.pid, signal.SIGKILL)
                    self._process.wait()
                    raise
        finally:
            if self._own_log and self.log_path is not None:
                self.log_path.unlink(missing_ok=True)

    @property
    def base_url(self) -> str:
        """The server's URL."""
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_until_serving()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
