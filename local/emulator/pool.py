"""Lambda's execution model for one function: a pool of worker processes.

A worker imports the handler once (a cold start, reported as Init Duration) and serves one
invocation at a time; concurrent invocations get more workers, up to the function's limit,
and wait beyond it. With SnapStart on, the function is initialized once, in its snapshot process
(local/emulator/snapshot.py), and each worker is a fork of it that runs the after-restore hooks
(reported as Restore Duration). The function's Timeout is enforced by killing the worker; a worker
that crashed or whose handler raised is replaced; a worker idle for `idle_timeout_s` is stopped,
as Lambda reclaims idle environments. After a code change (`reload`), idle workers stop and busy
ones stop when their invocation ends, so new invocations get fresh workers (and a new snapshot).
Each invocation logs Lambda's START, END and REPORT lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from local.emulator import protocol
from local.emulator.snapshot import InitFailed, Snapshot, first_message, launch
from local.output import emit
from local.template import Function

# Lambda's limit on a synchronous invocation's response.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# How long a worker may stay idle before it is stopped. Lambda reclaims idle environments after
# a time it does not document (observed: minutes); here two minutes give a burst's extra workers'
# memory back soon after the burst, while a developer stepping through requests keeps a warm
# worker. A snapshot's restore takes milliseconds, so a reclaimed worker is cheap to replace.
IDLE_TIMEOUT_S = 120.0


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


class WorkerProcess(Protocol):
    """What the pool needs of a worker's process: a child of its own, or a fork of a snapshot."""

    @property
    def pid(self) -> int:
        """Its process id."""
        ...

    @property
    def returncode(self) -> int | None:
        """Its exit status (negative: the signal that ended it), None while it runs."""
        ...

    def kill(self) -> None:
        """SIGKILL."""
        ...

    async def wait(self) -> int:
        """Its exit status, once it has ended."""
        ...


@dataclass(frozen=True)
class ColdStart:
    """How a worker started, which its first invocation reports."""

    init_ms: float | None = None  # a worker of its own: the handler's import
    restore_ms: float | None = None  # a fork of the snapshot: from the request to its ready
    restore_hooks_ms: float | None = None  # of which its after-restore hooks


@dataclass(eq=False)
class Worker:
    """One worker process and its end of the socket pair."""

    process: WorkerProcess
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    generation: int
    cold_start: ColdStart | None = None  # until the first invocation reports it
    idle_since: float = 0.0  # the event loop's time when it last became idle

    @classmethod
    async def start(cls, function: Function, generation: int, stdout: int | None) -> Worker:
        """Start a worker and wait until it has imported the handler."""
        started = asyncio.get_running_loop().time()
        process, ours = await launch(function, stdout)
        reader, writer = await asyncio.open_connection(sock=ours)
        worker = cls(process, reader, writer, generation)
        try:
            ready = await first_message(reader, started, lambda: worker.stop(kill=True))
        except InitFailed:
            raise
        except BaseException:
            process.kill()  # cancelled (the server is stopping): leave nothing running
            raise
        worker.cold_start = ColdStart(init_ms=ready["init_ms"])
        return worker

    @classmethod
    async def restore(cls, snapshot: Snapshot, generation: int) -> Worker:
        """A worker forked from the function's snapshot, its after-restore hooks run."""
        process, reader, writer, ready = await snapshot.fork()
        cold_start = ColdStart(restore_ms=ready["restore_ms"], restore_hooks_ms=ready["hooks_ms"])
        return cls(process, reader, writer, generation, cold_start)

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
    # The same bound across every pool of a server (imports and snapshots at once, whichever
    # function): without it a burst over six functions started six times max_starting imports,
    # and on a busy machine every one of them ran past the init limit, was killed and retried.
    cold_starts: asyncio.Semaphore | None = None
    # Seconds a worker may stay idle before it is stopped; None keeps idle workers until a reload.
    idle_timeout_s: float | None = IDLE_TIMEOUT_S
    generation: int = 0
    _idle: list[Worker] = field(default_factory=list)
    _busy: set[Worker] = field(default_factory=set)
    _starting: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _stopping: set[asyncio.Task[None]] = field(default_factory=set)
    _snapshot: asyncio.Task[Snapshot] | None = None  # SnapStart: the current code's snapshot
    _retired: set[Snapshot] = field(default_factory=set)  # older code's, until their workers end
    _reaper: asyncio.Task[None] | None = None

    @property
    def size(self) -> int:
        """Workers alive or starting."""
        return len(self._idle) + len(self._busy) + self._starting

    def prepare(self) -> None:
        """With SnapStart, take the function's snapshot now, as Lambda does when a version is published."""
        if self.function.snap_start:
            self._current_snapshot()

    def _current_snapshot(self) -> asyncio.Task[Snapshot]:
        """The task that starts (or started) the snapshot of the current code, started again
        after it failed or its process died."""
        task = self._snapshot
        if task is None or (task.done() and (task.cancelled() or task.exception() or not task.result().alive)):
            task = self._snapshot = asyncio.create_task(self._take_snapshot())
            task.add_done_callback(self._snapshot_taken)
        return task

    def _snapshot_taken(self, task: asyncio.Task[Snapshot]) -> None:
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so an unused failed snapshot is not a warning
        if exc is None:
            emit(
                f"Snapshot of {self.function.logical_id} taken: Init Duration: {task.result().init_ms:.2f} ms "
                "(import and before-snapshot hooks)"
            )
        elif isinstance(exc, InitFailed):
            emit(f"Snapshot of {self.function.logical_id} failed: {exc.error.get('errorType')}")

    async def _take_snapshot(self) -> Snapshot:
        async with self.cold_starts or contextlib.nullcontext():
            return await Snapshot.start(self.function, self.stdout)

    async def _start_worker(self) -> Worker:
        if not self.function.snap_start:
            async with self.cold_starts or contextlib.nullcontext():
                return await Worker.start(self.function, self.generation, self.stdout)
        generation = self.generation
        snapshot = await asyncio.shield(self._current_snapshot())
        return await Worker.restore(snapshot, generation)

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
            worker = await self._start_worker()
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
                worker.idle_since = asyncio.get_running_loop().time()
                self._idle.append(worker)
                self._reclaim_later()
            else:
                self._stop_later(worker, kill=not reusable)
            self._changed.notify()

    def _stop_later(self, worker: Worker, *, kill: bool = False) -> None:
        task = asyncio.create_task(worker.stop(kill=kill))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _reclaim_later(self) -> None:
        if self.idle_timeout_s is not None and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.create_task(self._reclaim_idle(self.idle_timeout_s))

    async def _reclaim_idle(self, timeout_s: float) -> None:
        """Stop each worker once it has been idle for `timeout_s`, until none is idle."""
        loop = asyncio.get_running_loop()
        while True:
            async with self._changed:
                cutoff = loop.time() - timeout_s
                expired = [worker for worker in self._idle if worker.idle_since <= cutoff]
                if expired:
                    self._idle = [worker for worker in self._idle if worker.idle_since > cutoff]
                    for worker in expired:
                        self._stop_later(worker)
                    self._changed.notify_all()  # room for a new worker, if a request waits for one
                if not self._idle:
                    return
                next_expiry = min(worker.idle_since for worker in self._idle) + timeout_s
            await asyncio.sleep(max(next_expiry - loop.time(), 0.01))

    async def invoke(self, event: dict[str, Any]) -> Outcome:
        """One invocation of the function with this event, logged as Lambda logs it."""
        request_id = str(uuid.uuid4())
        try:
            worker = await self._acquire()
        except InitFailed as exc:
            return self._init_failed(request_id, exc)
        cold_start, worker.cold_start = worker.cold_start, None
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
        self._report(request_id, duration, reply.get("max_memory_mb"), cold_start, outcome)
        return outcome

    def _report(
        self, request_id: str, duration_ms: float, memory_mb: int | None, cold_start: ColdStart | None, outcome: Outcome
    ) -> None:
        cold_start = cold_start or ColdStart()
        init_ms = cold_start.init_ms
        # Since August 2025 Lambda bills the init phase of on-demand functions too; a restore is
        # billed as its own field (the after-restore hooks), as Lambda's REPORT shows it.
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
        if cold_start.restore_ms is not None:
            fields.append(f"Restore Duration: {cold_start.restore_ms:.2f} ms")
            fields.append(f"Billed Restore Duration: {math.ceil(cold_start.restore_hooks_ms or 0)} ms")
        if outcome.status in (Status.TIMEOUT, Status.CRASH):
            fields.append(f"Status: {outcome.status.value if outcome.status is Status.TIMEOUT else 'error'}")
            if outcome.status is Status.CRASH and outcome.error:
                fields.append(f"Error Type: {outcome.error['errorType']}")
        emit(f"END RequestId: {request_id}\n" + "\t".join(fields))

    def _init_failed(self, request_id: str, exc: InitFailed) -> Outcome:
        error_type = exc.error.get("errorType", "Runtime.Unknown")
        failed = f"Status: error\tError Type: {error_type}"
        if exc.phase == "restore":
            emit(f"RESTORE_REPORT Restore Duration: {exc.init_ms:.2f} ms\t{failed}")
        else:
            emit(f"INIT_REPORT Init Duration: {exc.init_ms:.2f} ms\tPhase: init\t{failed}")
        emit(f"START RequestId: {request_id} Version: $LATEST")
        outcome = Outcome(Status.CRASH, error=exc.error)
        self._report(request_id, 0.0, None, None, outcome)
        return outcome

    async def reload(self) -> None:
        """Code changed: idle workers stop now, busy ones when their invocation ends; a new
        snapshot is taken, and the old one stops once its last worker has."""
        async with self._changed:
            self.generation += 1
            idle, self._idle = self._idle, []
            for worker in idle:
                self._stop_later(worker)
            old, self._snapshot = self._snapshot, None
            self._changed.notify_all()
        if old is not None:
            self._retire(old)
        self.prepare()

    def _retire(self, task: asyncio.Task[Snapshot]) -> None:
        async def retire() -> None:
            try:
                snapshot = await task
            except (InitFailed, asyncio.CancelledError):
                return
            self._retired.add(snapshot)
            try:
                await snapshot.close_when_unused()
            finally:
                self._retired.discard(snapshot)

        retiring = asyncio.create_task(retire())
        self._stopping.add(retiring)
        retiring.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """Stop every worker (busy ones are killed) and snapshot, and wait for them to exit."""
        async with self._changed:
            self.generation += 1
            workers = [*self._idle, *self._busy]
            self._idle = []
            snapshot, self._snapshot = self._snapshot, None
        if self._reaper is not None:
            self._reaper.cancel()
        await asyncio.gather(*(worker.stop(kill=True) for worker in workers), *self._stopping)
        snapshots = [*self._retired]
        if snapshot is not None:
            snapshot.cancel()  # a snapshot still starting stops (Snapshot.start kills its process)
            with contextlib.suppress(InitFailed, asyncio.CancelledError):
                snapshots.append(await snapshot)
        await asyncio.gather(*(snapshot.close() for snapshot in snapshots))

    def worker_pids(self) -> list[int]:
        """The process ids of the live workers."""
        return [worker.process.pid for worker in (*self._idle, *self._busy)]

    def snapshot_pid(self) -> int | None:
        """The process id of the current code's snapshot, once it is taken."""
        task = self._snapshot
        if task is None or not task.done() or task.cancelled() or task.exception():
            return None
        return task.result().process.pid
