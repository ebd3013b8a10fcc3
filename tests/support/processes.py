"""Stopping a process tree (SIGSTOP), as a frozen server, a stuck failover or a partition looks."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name (in parentheses) may hold spaces: the fields after it are fixed.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


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
