"""A function's snapshot, SnapStart's local stand-in: a process that has initialized the function
once (imported the handler, run the before-snapshot hooks) and from then on only forks. Each fork
is a new execution environment restored from the snapshot: it runs the after-restore hooks and
serves invocations as any worker does (local/emulator/worker.py). This process is the forks'
parent: it collects each one when it ends and tells the pool how it ended.

Messages on the control socket, framed as in local/emulator/protocol.py:
  pool -> here   {"fork": true}, with the new worker's socket attached (SCM_RIGHTS)
                 {"kill": pid}, a worker that timed out or is being stopped
  here -> pool   {"exited": pid, "returncode": n}, a worker has ended
When the pool hangs up, the remaining workers are killed and the process exits.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import select
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

import snapshot_restore_py  # type: ignore[import-untyped]  # ships no type hints

from local.emulator import protocol

# Descriptors that one read of the control socket takes at most (one per fork request).
_MAX_FDS_PER_READ = 64


def run_before_snapshot_hooks() -> None:
    """The before-snapshot hooks, in the reverse order of their registration, as Lambda runs them."""
    hooks = snapshot_restore_py.get_before_snapshot()
    while hooks:
        function, args, kwargs = hooks.pop()
        function(*args, **kwargs)


def run_after_restore_hooks() -> None:
    """The after-restore hooks, in the order of their registration, as Lambda runs them."""
    for function, args, kwargs in snapshot_restore_py.get_after_restore():
        function(*args, **kwargs)


class _ControlReader:
    """The control socket, read into whole messages, each fork request with its descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []

    def read(self) -> list[tuple[dict[str, Any], int | None]] | None:
        """The messages that are complete now; None when the pool has hung up."""
        data, fds, _, _ = socket.recv_fds(self.sock, 65536, _MAX_FDS_PER_READ)
        self.fds += fds
        if not data:
            return None
        messages, self.buffer = protocol.decode_frames(self.buffer + data)
        return [(message, self.fds.pop(0) if message.get("fork") else None) for message in messages]


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD's handler: the wake-up descriptor does the work; this only makes it fire."""


def fork_workers(control: socket.socket, start: Callable[[socket.socket], None]) -> None:
    """Fork a worker running `start(its socket)` for each request of the pool, until it hangs up."""
    # What the init made is never collected, so a fork's collections do not write to those pages
    # and they stay shared with this process, copy-on-write (what gc.freeze's documentation advises).
    gc.collect()
    gc.freeze()
    wakeup, wakeup_writer = socket.socketpair()
    wakeup.setblocking(False)
    wakeup_writer.setblocking(False)
    signal.set_wakeup_fd(wakeup_writer.fileno())
    signal.signal(signal.SIGCHLD, _ignore)
    reader = _ControlReader(control)
    workers: set[int] = set()
    try:
        while True:
            readable, _, _ = select.select([control, wakeup], [], [])
            if wakeup in readable:
                with contextlib.suppress(BlockingIOError):
                    while wakeup.recv(4096):
                        pass
                _collect(workers, control)
            if control not in readable:
                continue
            messages = reader.read()
            if messages is None:
                return
            for message, fd in messages:
                if fd is not None:
                    workers.add(_fork(fd, start, inherited=(control, wakeup, wakeup_writer)))
                elif message.get("kill") in workers:  # not one collected already, whose pid is free
                    os.kill(message["kill"], signal.SIGKILL)
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _collect(workers: set[int], control: socket.socket) -> None:
    """Collect every worker that has ended and tell the pool."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        workers.discard(pid)
        with contextlib.suppress(OSError):  # the pool has gone: its read of our end will say so
            protocol.send(control, {"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})


def _fork(fd: int, start: Callable[[socket.socket], None], inherited: tuple[socket.socket, ...]) -> int:
    """Fork a worker on the socket `fd`; its pid (in the child, never returns)."""
    sys.stdout.flush()
    sys.stderr.flush()
    random_state = random.getstate()
    pid = os.fork()
    if pid:
        os.close(fd)
        return pid
    status = 1
    try:
        # Lambda restores the snapshot's memory as it was, `random`'s state included. Python reseeds
        # `random` in a fork (os.register_at_fork), which would hide a function that does not
        # reseed after a restore: undone here, so every fork starts from the snapshot's state.
        random.setstate(random_state)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for sock in inherited:
            sock.close()
        with socket.socket(fileno=fd) as worker_socket:
            start(worker_socket)
        status = 0
    except BaseException:  # noqa: BLE001  # the child must never return into the parent's loop
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
