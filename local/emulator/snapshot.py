"""The pool's side of a function's snapshot (SnapStart locally, local/emulator/snapshot_process.py).

A `Snapshot` starts the snapshot process and waits for its init, forks workers from it, kills
them through it (it is their parent, so only it can collect them and their pids stay theirs until
it has), and learns from it how each one ended. A `ForkedProcess` is such a worker as the pool sees
a process: pid, returncode, kill() and wait().
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from local.emulator import protocol
from local.emulator.variables import lambda_environment
from local.template import PROJECT_ROOT, Function

# Lambda gives up on an initialisation that takes longer than this, and on a restore (the runtime
# loaded, the after-restore hooks run) that takes longer than the same 10 s.
INIT_TIMEOUT_S = 10.0
# A snapshot's init (the before-snapshot hooks included) may take 130 s, or the function's
# timeout when that is longer (Lambda's SnapStart runtime hooks documentation).
SNAPSHOT_INIT_TIMEOUT_S = 130.0


def _kill_orphan(pid: int) -> None:
    """Kill a worker whose snapshot process has just died (init collects it once it ends; its pid
    is then free, which is why this runs at once and only then)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class InitFailed(Exception):
    """The init (or a restore) failed: the worker or snapshot logged why."""

    def __init__(self, error: dict[str, Any], init_ms: float, phase: str = "init") -> None:
        super().__init__(error.get("errorMessage", f"{phase} failed"))
        self.error = error
        self.init_ms = init_ms
        self.phase = phase


def worker_config(function: Function, *, snapshot: bool = False) -> dict[str, Any]:
    """What `python -m local.emulator.worker` is told about its function."""
    return {
        "function_name": function.logical_id,
        "handler": function.handler,
        "code_uri": str(function.code_uri),
        "layers": [str(path) for path in function.layers],
        "memory_mb": function.memory_mb,
        "timeout_s": function.timeout_s,
        "snapshot": snapshot,
    }


async def launch(
    function: Function, stdout: int | None, *, snapshot: bool = False
) -> tuple[asyncio.subprocess.Process, socket.socket]:
    """Start `python -m local.emulator.worker` for the function; the process and our socket to it."""
    ours, theirs = socket.socketpair()
    # Ctrl-C reaches the whole process group, and a worker ignores it (the gateway stops its
    # workers). It starts with SIGINT blocked, so one that arrives while it is still importing
    # does not end it with a KeyboardInterrupt traceback; worker.main ignores, then unblocks it.
    # The fork happens before the first await, so unblocking (not restoring the mask) after it is
    # right even when launches overlap: a restored mask could be another launch's blocked one.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "local.emulator.worker",
            json.dumps(worker_config(function, snapshot=snapshot)),
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
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        theirs.close()
    return process, ours


async def first_message(
    reader: asyncio.StreamReader,
    started: float,
    stop: Callable[[], Awaitable[None]],
    phase: str = "init",
    timeout_s: float = INIT_TIMEOUT_S,
) -> dict[str, Any]:
    """A new process's ready message; InitFailed (after `stop()`) when it failed or died first."""
    loop = asyncio.get_running_loop()
    try:
        ready: dict[str, Any]
        ready, _ = await asyncio.wait_for(protocol.receive_async(reader), timeout_s)
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
        await stop()
        error = {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited during {phase}: {exc!r}"}
        raise InitFailed(error, (loop.time() - started) * 1000, phase) from exc
    if not ready["ready"]:
        await stop()
        raise InitFailed(ready["error"], (loop.time() - started) * 1000, phase)
    return ready


class ForkedProcess:
    """A worker forked from a snapshot, as the pool handles a process."""

    def __init__(self, snapshot: Snapshot, pid: int, exit_status: asyncio.Future[int]) -> None:
        self.pid = pid
        self._snapshot = snapshot
        self._exit_status = exit_status

    @property
    def returncode(self) -> int | None:
        """Its exit status (negative: the signal that ended it), None while it runs."""
        return self._exit_status.result() if self._exit_status.done() else None

    def kill(self) -> None:
        """Kill it (through the snapshot process, its parent)."""
        self._snapshot.kill(self.pid)

    async def wait(self) -> int:
        """Its exit status, once it has ended."""
        return await asyncio.shield(self._exit_status)


class Snapshot:
    """One function's snapshot process: initialized once, forked into workers."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sender: socket.socket,
        init_ms: float,
    ) -> None:
        self.process = process
        self.init_ms = init_ms
        self._reader = reader
        self._writer = writer
        # A second handle on the control socket, to send descriptors (asyncio's streams cannot).
        self._sender = sender
        self._exits: dict[int, asyncio.Future[int]] = {}  # live workers' exit statuses, by pid
        self._early: dict[int, int] = {}  # exit statuses of forks the pool has not heard of yet
        self._forking = 0
        self._unused = asyncio.Event()
        self._listener = asyncio.create_task(self._listen())

    @classmethod
    async def start(cls, function: Function, stdout: int | None) -> Snapshot:
        """Start the snapshot process and wait for its init (import and before-snapshot hooks)."""
        started = asyncio.get_running_loop().time()
        process, ours = await launch(function, stdout, snapshot=True)
        sender = ours.dup()
        reader, writer = await asyncio.open_connection(sock=ours)

        async def stop() -> None:
            sender.close()
            writer.close()
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

        try:
            timeout_s = max(SNAPSHOT_INIT_TIMEOUT_S, function.timeout_s)
            ready = await first_message(reader, started, stop, timeout_s=timeout_s)
        except BaseException as exc:
            if not isinstance(exc, InitFailed):  # cancelled (the server is stopping)
                await stop()
            raise
        return cls(process, reader, writer, sender, ready["init_ms"])

    @property
    def alive(self) -> bool:
        """Whether the snapshot process still answers."""
        return not self._listener.done()

    async def fork(self) -> tuple[ForkedProcess, asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
        """A new worker: its process, our end of its socket, and its ready message (with
        `restore_ms`, from the request to the fork's ready, and `hooks_ms`, its after-restore hooks)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._forking += 1
        try:
            reader, writer = await self._request_fork()

            async def hang_up() -> None:  # a fork that is alive reads the end of input and exits
                writer.close()

            try:
                ready = await first_message(reader, started, hang_up, "restore")
            except asyncio.CancelledError:
                writer.close()
                raise
            ready["restore_ms"] = (loop.time() - started) * 1000
            pid = int(ready["pid"])
            exit_status = self._exits[pid] = loop.create_future()
            if pid in self._early:
                exit_status.set_result(self._early.pop(pid))
        finally:
            self._forking -= 1
            self._check_unused()
        return ForkedProcess(self, pid, exit_status), reader, writer, ready

    async def _request_fork(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self._sender, [protocol.encode({"fork": True})], [theirs.fileno()])
        except OSError as exc:
            ours.close()
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"the snapshot has gone: {exc!r}"}
            raise InitFailed(error, 0.0, "restore") from exc
        finally:
            theirs.close()
        return await asyncio.open_connection(sock=ours)

    def kill(self, pid: int) -> None:
        """Kill one of its workers (once it has died, the listener has killed them all)."""
        if self.alive:
            with contextlib.suppress(OSError):  # if it is stopping, it kills its workers itself
                protocol.send(self._sender, {"kill": pid})

    async def _listen(self) -> None:
        """Record each worker's end until the snapshot process goes; then its orphans are killed."""
        try:
            while True:
                message, _ = await protocol.receive_async(self._reader)
                pid, status = int(message["exited"]), int(message["returncode"])
                exit_status = self._exits.pop(pid, None)
                if exit_status is None:
                    self._early[pid] = status
                elif not exit_status.done():
                    exit_status.set_result(status)
                self._check_unused()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for pid, exit_status in self._exits.items():
                _kill_orphan(pid)
                if not exit_status.done():
                    exit_status.set_result(-signal.SIGKILL)
            self._exits.clear()
            self._unused.set()

    def _check_unused(self) -> None:
        if not self._exits and not self._forking:
            self._unused.set()

    async def close_when_unused(self) -> None:
        """Close once its workers have all ended (after a reload, the old code's last invocations)."""
        self._unused.clear()
        self._check_unused()
        await self._unused.wait()
        await self.close()

    async def close(self) -> None:
        """Hang up (it kills its remaining workers and exits); kill it if it does not."""
        self._sender.close()
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        try:
            await asyncio.wait_for(self.process.wait(), 5.0)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._listener
