"""Performance of the local runtime (`make run`): gateway overhead, throughput, start, reload.

    .venv/bin/python -m bench.local_runtime [--requests 2000] [--seconds 5]

Uses DATABASE_URL when set, else an embedded PostgreSQL in a temporary folder. Prints one
line per figure. Figures depend on the machine; the issue's targets are in the comments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local.devdb.database import EmbeddedPostgres, scratch_database
from local.emulator.context import LambdaContext
from local.emulator.loader import load_handler
from local.gateway.payload import Router, build_event
from local.template import PROJECT_ROOT, all_routes, load_functions

# A measuring script: its asserts guard the measurement, and it runs commands it builds itself.
# ruff: noqa: S101, S603

RUNNING = re.compile(rb"Running on http://([^:\s]+):(\d+)")
FIXTURES = PROJECT_ROOT / "tests" / "e2e" / "fixtures"


@contextmanager
def postgres() -> Iterator[str]:
    """A server URL: DATABASE_URL's, or an embedded server for the run."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="bench-pgdata-") as folder:
        server = EmbeddedPostgres(Path(folder), delete_on_stop=True)
        try:
            yield server.start()
        finally:
            server.stop()


class Server:
    """A `python -m local serve` (or `make run`) subprocess."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path = PROJECT_ROOT) -> None:
        self.started = time.perf_counter()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  # kept open while the server runs
        self.process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.port = 0
        while not self.port:
            self.log.seek(0)
            found = RUNNING.search(self.log.read())
            if found:
                self.port = int(found.group(2))
            elif self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(self.log.read().decode(errors="replace"))
            else:
                time.sleep(0.005)
        self.ready_s = time.perf_counter() - self.started

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


def serve(database_url: str, *args: str) -> Server:
    """`python -m local serve` on a free port."""
    command = [sys.executable, "-m", "local", "serve", "--port", "0", *args]
    return Server(command, {"DATABASE_URL": database_url})


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted values lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed_get(connection: http.client.HTTPConnection, path: str) -> float:
    """Seconds for one GET on a kept-alive connection."""
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    assert response.status == 200, response.status
    return elapsed


class RawClient:
    """A keep-alive HTTP/1.1 client that costs next to nothing, so the figure is the gateway's."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def get(self, path: str) -> bytes:
        """One GET; the response body."""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        found = re.search(rb"(?i)content-length: (\d+)", head)
        assert found is not None
        length = int(found.group(1))
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buffer = rest[length:]
        assert head.startswith(b"HTTP/1.1 200"), head
        return rest[:length]


def compare(
    port: int, template: Path, parameters: dict[str, str], path: str, requests: int
) -> tuple[list[float], list[float]]:
    """The same warm request over HTTP and as a direct in-process call, interleaved; print both.

    Returns the seconds of each: over HTTP, in-process.
    """
    functions = load_functions(template, parameters=parameters)
    for function in functions.values():
        if function.routes:  # the API functions' variables, not the migrations function's
            os.environ.update(function.environment)
    match = Router(all_routes(functions)).match("GET", path)
    assert match is not None
    function = functions[match.route.function]
    handler = load_handler(function)
    client = RawClient(port)
    http_s: list[float] = []
    direct_s: list[float] = []
    # The handler's own log lines go to a file on both sides (the worker's go to the server log).
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for index in range(200 + requests):  # the first 200 warm both sides up
            started = time.perf_counter()
            client.get(path)
            over_http = time.perf_counter() - started
            event = build_event(method="GET", raw_path=path, match=match)
            context = LambdaContext(function.logical_id, function.memory_mb, function.timeout_s)
            started = time.perf_counter()
            handler(event, context)
            direct = time.perf_counter() - started
            if index >= 200:
                http_s.append(over_http)
                direct_s.append(direct)
    for name, values in (("over HTTP", http_s), ("in-process handler", direct_s)):
        line = ", ".join(f"p{int(q * 100)} {percentile(values, q) * 1000:.3f} ms" for q in (0.5, 0.9, 0.99))
        print(f"GET {match.route.path} {name}: {line}")
    # Target: under 1 ms at p50.
    overhead_ms = (statistics.median(http_s) - statistics.median(direct_s)) * 1000
    print(f"gateway overhead p50, {function.logical_id}: {overhead_ms:.3f} ms")
    return http_s, direct_s


def overhead(database_url: str, requests: int) -> None:
    """Gateway overhead for a product function (with its database query) and a trivial one."""
    server = serve(database_url, "--no-reload")  # it applies the migrations
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        connection.request("POST", "/users/bench/tasks", body='{"title": "bench"}')
        task_id = re.search(rb'"id":(\d+)', connection.getresponse().read())
        connection.close()
        assert task_id is not None
        path = f"/users/bench/tasks/{int(task_id.group(1))}"
        compare(server.port, PROJECT_ROOT / "template.yaml", {"DatabaseUrl": database_url}, path, requests)
    finally:
        server.stop()
    server = serve(database_url, "--no-reload", "--template", str(FIXTURES / "template.yaml"))
    try:
        compare(server.port, FIXTURES / "template.yaml", {}, "/shape/object", requests)
    finally:
        server.stop()


async def _load(port: int, path: str, concurrency: int, seconds: float) -> int:
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    done = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            assert head.startswith(b"HTTP/1.1 200"), head
            done += 1
        writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done


def throughput(database_url: str, seconds: float) -> None:
    """Warm requests per second at concurrency 8 and 32 (workers: the default limit, then 8)."""
    for limit in ("4", "8"):
        server = serve(database_url, "--no-reload", "--max-concurrency", limit)
        try:
            asyncio.run(_load(server.port, "/health", 32, 2.0))  # start every worker
            for concurrency in (8, 32):
                count = asyncio.run(_load(server.port, "/health", concurrency, seconds))
                print(
                    f"throughput GET /health, {limit} workers, concurrency {concurrency}: {count / seconds:.0f} req/s"
                )
        finally:
            server.stop()


def start_time() -> None:
    """From `make run` (environment built) to serving: first start of a data folder, then a restart."""
    with tempfile.TemporaryDirectory(prefix="bench-make-run-") as folder:
        env = {"PORT": "0", "ARGS": f"--data-dir {folder}/pgdata", "DATABASE_URL": ""}
        for label in ("new data folder (initdb)", "existing data folder"):
            server = Server(["make", "--no-print-directory", "run"], env)
            first_response = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", server.port)
            timed_get(connection, "/health")
            first_response = time.perf_counter() - server.started
            connection.close()
            os.killpg(os.getpgid(server.process.pid), 0)
            server.stop()
            # Target: under 3 s to serving.
            print(
                f"make run to serving, {label}: {server.ready_s:.2f} s (first /health answered: {first_response:.2f} s)"
            )


def reload_time(database_url: str, rounds: int = 5) -> None:
    """From saving a handler (or the layer) to the change being served, cold start included."""
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as folder:
        project = Path(folder) / "project"
        shutil.copytree(FIXTURES, project)
        server = serve(database_url, "--template", str(project / "template.yaml"))
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        try:
            for target, key in (
                (project / "functions/probe/app.py", b'"version": "'),
                (project / "layer/probe_layer.py", b'"layer": "'),
            ):
                times = []
                for round_ in range(rounds):
                    timed_get(connection, "/echo/x")
                    text = target.read_text()
                    new = f"r{round_}"
                    edited = re.sub(r'(VERSION|MARKER) = "[^"]*"', rf'\1 = "{new}"', text)
                    temporary = target.with_suffix(".tmp")
                    temporary.write_text(edited)
                    saved = time.perf_counter()
                    os.replace(temporary, target)
                    while True:
                        connection.request("GET", "/echo/x")
                        body = connection.getresponse().read()
                        if key + new.encode() in body:
                            break
                        time.sleep(0.005)
                    times.append(time.perf_counter() - saved)
                    time.sleep(0.3)
                # Target: under 1 s.
                print(
                    f"save to served ({target.name}): median {statistics.median(times):.3f} s, max {max(times):.3f} s"
                )
        finally:
            connection.close()
            server.stop()


def main() -> None:
    """Run every measurement."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    start_time()
    with postgres() as server_url:
        with scratch_database(server_url, prefix="bench") as url:
            overhead(url, args.requests)
            throughput(url, args.seconds)
        with scratch_database(server_url, prefix="bench_reload") as url:
            reload_time(url)


if __name__ == "__main__":
    main()
