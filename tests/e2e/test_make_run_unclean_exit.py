"""`make run` after an unclean exit: a run killed with SIGKILL, or its PostgreSQL killed, does not
keep the next run from starting at once, nor its Ctrl-C from stopping PostgreSQL."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.server import LocalServer
from tests.e2e.test_make_run import descendants, make_run, stop_like_ctrl_c, wait_gone
from tests.support.contract import assert_task
from tests.support.processes import each_process

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def postmaster_of(data_dir: Path) -> int:
    """The pid postmaster.pid names."""
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def state(pid: int) -> str | None:
    """The process's state letter (Z: a zombie), or None when there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def postmasters_of(data_dir: Path) -> list[int]:
    """Running (not zombie) PostgreSQL servers started on `data_dir`."""
    found = []
    for pid, cmdline in each_process("cmdline"):
        argv = cmdline.split(b"\0")
        if argv[0].endswith(b"/postgres") and str(data_dir).encode() in argv and state(pid) != "Z":
            found.append(pid)
    return found


def kill_group(server: LocalServer) -> set[int]:
    """SIGKILL to `make run`'s whole process group (make, the runtime, its workers); their pids."""
    killed = descendants(server.process.pid)
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    return killed


def handles(data_dir: Path) -> list[int]:
    """The pids in pgserver's list of the processes using the server."""
    pids: list[int] = json.loads((data_dir / ".handle_pids.json").read_text() or "[]")
    return pids


@contextmanager
def reaper_of_orphans() -> Iterator[set[int]]:
    """This process adopts the orphans of its descendants (a killed postmaster among them) and
    reaps only those the test names, when it chooses: a killed postmaster stays a zombie exactly
    as long as the test wants, as it does for a moment under init."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, os.strerror(ctypes.get_errno())
    adopted: set[int] = set()
    try:
        yield adopted
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        deadline = time.monotonic() + 30
        while adopted and time.monotonic() < deadline:
            for pid in list(adopted):
                if reap(pid):
                    adopted.discard(pid)
            time.sleep(0.05)


def reap(pid: int) -> bool:
    """Collect `pid` if it is a child of this process that has exited; True when it is gone."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not ours (reaped, or never adopted)
    return done == pid


def when_logged(server_log: Callable[[], str], text: str, action: Callable[[], None]) -> threading.Thread:
    """Run `action` once `text` shows in the log (or after 60 s, so that nothing hangs)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while text not in server_log() and time.monotonic() < deadline:
            time.sleep(0.02)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_killed_runs_leave_nothing_in_the_way(tmp_path: Path, user_id: str) -> None:
    # Outside pytest's temporary folder, as tests/conftest.py explains.
    with tempfile.TemporaryDirectory(prefix="tasks-unclean-") as folder:
        data_dir = Path(folder) / "pgdata"
        try:
            check_unclean_exits(tmp_path, data_dir, user_id)
        finally:
            for pid in postmasters_of(data_dir):  # whatever a failed check left behind
                os.kill(pid, signal.SIGKILL)


def check_unclean_exits(tmp_path: Path, data_dir: Path, user_id: str) -> None:
    # 1. `make run` killed with SIGKILL: PostgreSQL (a session of its own) outlives it, and the
    #    killed run's pid stays in pgserver's list of the server's users.
    with make_run(tmp_path / "first.log", data_dir) as server:
        created = server.api().post(f"/users/{user_id}/tasks", {"title": "before the kills"}).json()
        assert_task(created, user_id=user_id)
        postmaster = postmaster_of(data_dir)
        killed = kill_group(server)
    stale = handles(data_dir)
    assert stale
    assert set(stale) <= killed
    assert postmasters_of(data_dir) == [postmaster]

    # 2. The next run adopts that server, and its Ctrl-C stops it: the dead pid is forgotten.
    with make_run(tmp_path / "second.log", data_dir) as server:
        assert server.api().get(f"/users/{user_id}/tasks").json() == [created]
        assert postmaster_of(data_dir) == postmaster
        assert not set(stale) & set(handles(data_dir))
        stop_like_ctrl_c(server, data_dir)
    assert postmasters_of(data_dir) == []

    # 3. PostgreSQL killed with SIGKILL, then the run, and a new run at once: the killed
    #    postmaster is a zombie until reaped (pgserver would take it for a running server), and a
    #    backend that has not exited yet still holds its shared memory (PostgreSQL refuses to
    #    start). The new run waits for both, then serves the same data.
    with reaper_of_orphans() as adopted:
        with make_run(tmp_path / "third.log", data_dir) as server:
            assert server.api().get(f"/users/{user_id}/tasks").json() == [created]
            postmaster = postmaster_of(data_dir)
            backends = descendants(postmaster)
            sessions = [pid for pid in backends if b"tasks_app" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert sessions  # the functions' connections
            straggler = sessions[0]
            os.kill(straggler, signal.SIGSTOP)
            os.kill(postmaster, signal.SIGKILL)
            adopted.update({postmaster, *backends, *kill_group(server)})
        assert state(postmaster) == "Z"

        log = tmp_path / "fourth.log"

        def read_log() -> str:
            return log.read_text(errors="replace") if log.exists() else ""

        def release_the_zombie() -> None:
            reap(postmaster)

        def release_the_straggler() -> None:
            os.kill(straggler, signal.SIGCONT)

        release_zombie = when_logged(read_log, "Waiting for the previous PostgreSQL", release_the_zombie)
        release_straggler = when_logged(read_log, "is not ready yet", release_the_straggler)
        with make_run(log, data_dir) as server:
            release_zombie.join()
            release_straggler.join()
            assert server.api().get(f"/users/{user_id}/tasks").json() == [created]
            assert postmaster_of(data_dir) != postmaster
            adopted.add(postmaster_of(data_dir))
            stop_like_ctrl_c(server, data_dir)
        assert wait_gone(backends) == set()
    text = log.read_text()
    assert "Waiting for the previous PostgreSQL" in text
    assert "is not ready yet" in text
    assert "Traceback" not in text
    assert postmasters_of(data_dir) == []
