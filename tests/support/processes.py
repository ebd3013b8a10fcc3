"""Stopping a process tree (SIGSTOP), as a frozen server, a stuck failover or a partition looks."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def each_process(file: str) -> Iterator[tuple[int, bytes]]:
    """(pid, the bytes of /proc/<pid>/<file>) for every process still there when read."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / file).read_bytes()
            except OSError:
                continue  # gone meanwhile


def parent(stat: bytes) -> int:
    """The parent's pid in a /proc/<pid>/stat."""
    # The command name (in parentheses) may hold spaces: the fields after it are fixed.
    return int(stat.rsplit(b")", 1)[1].split()[1])


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    return [child for child, stat in each_process("stat") if parent(stat) == pid]


def _continue(pids: list[int]) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


@contextmanager
def frozen(pid: int, *, at_most_s: float = 60) -> Iterator[list[int]]:
    """`pid` and all its descendants stopped for the block, then continued; yields their ids.

    The root is stopped first, so it forks no new child meanwhile. After `at_most_s` they are
    continued anyway, so code that would wait for the frozen server forever ends (and fails its
    test) instead of hanging it.
    """
    stopped: list[int] = []
    pending = [pid]
    watchdog = threading.Timer(at_most_s, _continue, args=(stopped,))
    try:
        while pending:
            current = pending.pop()
            os.kill(current, signal.SIGSTOP)
            stopped.append(current)
            pending.extend(child for child in children(current) if child not in stopped)
        watchdog.start()
        yield list(stopped)
    finally:
        watchdog.cancel()
        _continue(stopped)
