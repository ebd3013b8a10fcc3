"""Lambda's execution model for one function: a pool of worker processes.

A worker imports the handler once (a cold start, reported as Init Duration) and serves one
invocation at a time; concurrent invocations get more workers, up to the function's limit,
and wait beyond it. The function's Timeout is enforced by killing the worker; a worker that
crashed or whose handler raised is replaced. After a code change (`reload`), idle workers
stop and busy ones stop when their invocation ends, so new invocations get fresh workers.
Each invocation logs Lambda's START, END and REPORT lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from local.emulator import protocol
from local.emulator.variables import lambda_environment
from local.output import emit
from local.template import PROJECT_ROOT, Function

# Lambda gives up on an initialisation that takes longer than this.
INIT_TIMEOUT_S = 10.0
# Lambda's limit on a synchronous invocation's response.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024


class Status(Enum):
    """How an invocation ended."""

    OK = "ok"
    ERROR = "error"  # the handler raised, or its result could not be marshalled
    TIMEOUT = "timeout"
    CRASH = "crash"  # the worker died (Runtime.ExitError), or could not start


@dataclass
class Outcome:
    """An invocation's result: the handler's return value, or Lambda's error payload."""

    status: Status
    result: Any = None
    error: dict[str, Any] | None = None


class InitFailed(Exception):
    """The handler could not be imported (the worker logged why)."""

    def __init__(self, error: dict[str, Any], init_ms: float) -> None:
        super().__init__(error.get("errorMessage", "init failed"))
        self.error = error
        self.init_ms = init_ms


@dataclass(eq=False)
class Worker:
    """One worker process and its end of the socket pair."""

    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    generation: int
    init_ms: float | None = None  # set until the first invocation reports it

    @classmethod
    async def start(cls, function: Function, generation: int, stdout: int | None) -> Worker:
        """Start a worker and wait until it has imported the handler."""
        ours, theirs = socket.socketpair()
        config = {
            "function_name": function.logical_id,
            "handler": function.handler,
            "code_uri": str(function.code_uri),
            "layers": [str(path) for path in function.layers],
            "memory_mb": function.memory_mb,
            "timeout_s": function.timeout_s,
        }
        started = asyncio.get_running_loop().time()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "local.emulator.worker",
                json.dumps(config),
                str(theirs.fileno()),
                cwd=PROJECT_ROOT,
                env=lambda_environment(function),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=stdout,
            )
        except OSError as exc:
            ours.close()
            error = {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": f"cannot start the worker: {exc}"}
            raise InitFailed(error, 0.0) from exc
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        worker = cls(process, reader, writer, generation)
        try:
            ready, _ = await asyncio.wait_for(protocol.receive_async(reader), INIT_TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            await worker.stop(kill=True)
            init_ms = (asyncio.get_running_loop().time() - started) * 1000
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited during init: {exc!r}"}
            raise InitFailed(error, init_ms) from exc
        except BaseException:
            process.kill()  # cancelled (the server is stopping): leave nothing running
            raise
        if not ready["ready"]:
            await worker.stop(kill=True)
            raise InitFailed(ready["error"], (asyncio.get_running_loop().time() - started) * 1000)
        worker.init_ms = ready["init_ms"]
        return worker

    async def call(self, message: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Send one invocation and wait for its reply (and the reply's size)."""
        self.writer.write(protocol.encode(message))
        await self.writer.drain()
        reply: dict[str, Any]
        reply, size = await protocol.receive_async(self.reader)
        return reply, size

    async def stop(self, *, kill: bool = False) -> None:
        """Stop the worker: hang up (it exits when it sees the end of input), or kill it."""
        if kill and self.process.returncode is None:
            self.process.kill()
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
        try:
            await asyncio.wait_for(self.process.wait(), 2.0)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def _describe_exit(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"signal: {signal.Signals(-returncode).name.removeprefix('SIG').lower()}"
    return f"exit status {returncode}"


@dataclass(eq=False)
class FunctionPool:
    """The workers of one function, at most `limit` of them."""

    function: Function
    limit: int
    stdout: int | None = None  # where workers write (None: this process's stdout and stderr)
    # Cold starts at once. In AWS every environment has CPU of its own; here they share the
    # machine's, and a burst of simultaneous imports would run past Lambda's 10 s init limit.
    # A request beyond this waits for the first worker that is free, starting or warm.
    max_starting: int = field(default_factory=lambda: os.cpu_count() or 2)
    generation: int = 0
    _idle: list[Worker] = field(default_factory=list)
    _busy: set[Worker] = field(default_factory=set)
    _starting: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _stopping: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def size(self) -> int:
        """Workers alive or starting."""
        return len(self._idle) + len(self._busy) + self._starting

    async def _acquire(self) -> Worker:
        async with self._changed:
            while not self._idle and (self.size >= self.limit or self._starting >= self.max_starting):
                await self._changed.wait()
            if self._idle:
                worker = self._idle.pop()  # the most recently used: the warmest
                self._busy.add(worker)
                return worker
            self._starting += 1
        try:
            worker = await Worker.start(self.function, self.generation, self.stdout)
        except BaseException:
            async with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise
        async with self._changed:
            self._starting -= 1
            self._busy.add(worker)
            self._changed.notify_all()  # another cold start may begin
        return worker

    async def _release(self, worker: Worker, *, reusable: bool) -> None:
        async with self._changed:
            self._busy.discard(worker)
            if reusable and worker.generation == self.generation:
                self._idle.append(worker)
            else:
                self._stop_later(worker, kill=not reusable)
            self._changed.notify()

    def _stop_later(self, worker: Worker, *, kill: bool = False) -> None:
        task = asyncio.create_task(worker.stop(kill=kill))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def invoke(self, event: dict[str, Any]) -> Outcome:
        """One invocation of the function with this event, logged as Lambda logs it."""
        request_id = str(uuid.uuid4())
        try:
            worker = await self._acquire()
        except InitFailed as exc:
            return self._init_failed(request_id, exc)
        init_ms, worker.init_ms = worker.init_ms, None
        emit(f"START RequestId: {request_id} Version: $LATEST")
        timeout = self.function.timeout_s
        started = asyncio.get_running_loop().time()
        reply: dict[str, Any] = {}
        try:
            reply, size = await asyncio.wait_for(worker.call({"request_id": request_id, "event": event}), timeout)
        except TimeoutError:
            await self._release(worker, reusable=False)
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            emit(f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds")
            outcome = Outcome(Status.TIMEOUT, error={"errorType": "Sandbox.Timedout", "errorMessage": "timed out"})
        except (asyncio.IncompleteReadError, ConnectionError):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.process.wait(), 1.0)
            await self._release(worker, reusable=False)
            exit_error = f"Runtime exited with error: {_describe_exit(worker.process.returncode)}"
            emit(f"RequestId: {request_id} Error: {exit_error}\nRuntime.ExitError")
            outcome = Outcome(Status.CRASH, error={"errorType": "Runtime.ExitError", "errorMessage": exit_error})
        else:
            if size > MAX_RESPONSE_BYTES:
                error = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": "Response payload size exceeded"}
                outcome = Outcome(Status.ERROR, error=error)
            elif reply["ok"]:
                outcome = Outcome(Status.OK, result=reply["result"])
            else:
                outcome = Outcome(Status.ERROR, error=reply["error"])
            # A handler that raised gets a fresh environment, as the issue asks of this runtime.
            await self._release(worker, reusable=reply["ok"])
        duration = reply.get("duration_ms", (asyncio.get_running_loop().time() - started) * 1000)
        self._report(request_id, duration, reply.get("max_memory_mb"), init_ms, outcome)
        return outcome

    def _report(
        self, request_id: str, duration_ms: float, memory_mb: int | None, init_ms: float | None, outcome: Outcome
    ) -> None:
        # Since August 2025 Lambda bills the init phase of on-demand functions too.
        billed = math.ceil(duration_ms + (init_ms or 0))
        fields = [
            f"REPORT RequestId: {request_id}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {billed} ms",
            f"Memory Size: {self.function.memory_mb} MB",
            f"Max Memory Used: {memory_mb if memory_mb is not None else '-'} MB",
        ]
        if init_ms is not None:
            fields.append(f"Init Duration: {init_ms:.2f} ms")
        if outcome.status in (Status.TIMEOUT, Status.CRASH):
            fields.append(f"Status: {outcome.status.value if outcome.status is Status.TIMEOUT else 'error'}")
            if outcome.status is Status.CRASH and outcome.error:
                fields.append(f"Error Type: {outcome.error['errorType']}")
        emit(f"END RequestId: {request_id}\n" + "\t".join(fields))

    def _init_failed(self, request_id: str, exc: InitFailed) -> Outcome:
        error_type = exc.error.get("errorType", "Runtime.Unknown")
        emit(f"INIT_REPORT Init Duration: {exc.init_ms:.2f} ms\tPhase: init\tStatus: error\tError Type: {error_type}")
        emit(f"START RequestId: {request_id} Version: $LATEST")
        outcome = Outcome(Status.CRASH, error=exc.error)
        self._report(request_id, 0.0, None, None, outcome)
        return outcome

    async def reload(self) -> None:
        """Code changed: idle workers stop now, busy ones when their invocation ends."""
        async with self._changed:
            self.generation += 1
            idle, self._idle = self._idle, []
            for worker in idle:
                self._stop_later(worker)
            self._changed.notify_all()

    async def close(self) -> None:
        """Stop every worker (busy ones are killed) and wait for them to exit."""
        async with self._changed:
            self.generation += 1
            workers = [*self._idle, *self._busy]
            self._idle = []
        await asyncio.gather(*(worker.stop(kill=True) for worker in workers), *self._stopping)

    def worker_pids(self) -> list[int]:
        """The process ids of the live workers."""
        return [worker.process.pid for worker in (*self._idle, *self._busy)]
