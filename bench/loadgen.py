"""A small HTTP/1.1 load generator: N keep-alive connections, each sending requests back to back
for a fixed time, every latency recorded. Plain asyncio streams, so its own cost is small and
the same for every server it measures.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from .stats import summary


@dataclass(frozen=True)
class Load:
    """One request, sent over and over."""

    method: str
    path: str
    body: bytes
    status: int

    def wire(self, host: str) -> bytes:
        """The request's bytes."""
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        return (head + f"Content-Length: {len(self.body)}\r\n\r\n").encode() + self.body


class Connection:
    """One keep-alive connection that sends one request over and over."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> None:
        self._reader = reader
        self._writer = writer
        self._payload = payload

    @classmethod
    async def open(cls, host: str, port: int, load: Load) -> Connection:
        """A connection to the server, ready to send `load`."""
        reader, writer = await asyncio.open_connection(host, port)  # with TCP_NODELAY, as asyncio sets it
        return cls(reader, writer, load.wire(f"{host}:{port}"))

    async def send(self) -> int:
        """Send the request and read the whole response; its status."""
        self._writer.write(self._payload)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
            elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                raise ValueError("chunked responses are not expected here")
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        """Close the connection."""
        self._writer.close()


async def _connection(host: str, port: int, load: Load, deadline: float, latencies: list[float]) -> int:
    """One client: requests back to back until the deadline; the number of failures."""
    connection = await Connection.open(host, port, load)
    failures = 0
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            status = await connection.send()
            latencies.append(time.perf_counter() - start)
            failures += status != load.status
    finally:
        connection.close()
    return failures


async def _run(host: str, port: int, load: Load, concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    failures = await asyncio.gather(*(_connection(host, port, load, deadline, latencies) for _ in range(concurrency)))
    return {"latencies": latencies, "failures": sum(failures), "elapsed": time.perf_counter() - started}


def measure(host: str, port: int, load: Load, concurrency: int, seconds: float) -> dict[str, Any]:
    """Every latency (s), the failures and the time taken at this concurrency for about `seconds`."""
    return asyncio.run(_run(host, port, load, concurrency, seconds))


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one measure as requests per second and latency (ms) over all of them."""
    latencies = [value for run in runs for value in run["latencies"]]
    return {
        "requests": len(latencies),
        "failures": sum(run["failures"] for run in runs),
        "rps": len(latencies) / sum(run["elapsed"] for run in runs),
        "latency_ms": summary(latencies, scale=1e3),
    }
