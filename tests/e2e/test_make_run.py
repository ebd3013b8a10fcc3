"""`make run`: the embedded PostgreSQL keeps tasks across restarts, and Ctrl-C leaves no process."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path

from tests.e2e.server import LocalServer, local_server
from tests.support.contract import assert_task
from tests.support.processes import each_process, parent


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (the server, its workers; not the detached postmaster)."""
    children: dict[int, list[int]] = {}
    for child, stat in each_process("stat"):
        children.setdefault(parent(stat), []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def wait_gone(pids: set[int], timeout_s: float = 15.0) -> set[int]:
    """The pids still running after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = {pid for pid in pids if Path(f"/proc/{pid}").exists() and "State:\tZ" not in _status(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "State:\tZ"


def make_run(log: Path, data_dir: Path) -> AbstractContextManager[LocalServer]:
    env = {"PORT": "0", "ARGS": f"--data-dir {data_dir}", "DATABASE_URL": ""}
    return local_server(log, env=env, command=["make", "--no-print-directory", "run"])


def stop_like_ctrl_c(server: LocalServer, data_dir: Path) -> None:
    processes = descendants(server.process.pid) | {server.process.pid}
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    server.stop(signal.SIGINT)
    assert wait_gone(processes | {postmaster}) == set(), server.log()
    assert "Stopping" in server.log()


def test_tasks_survive_a_restart_and_nothing_is_left_running(tmp_path: Path, user_id: str) -> None:
    # Outside pytest's temporary folder, as tests/conftest.py explains.
    with tempfile.TemporaryDirectory(prefix="tasks-make-run-") as folder:
        restart_and_check(tmp_path, Path(folder) / "pgdata", user_id)


def restart_and_check(tmp_path: Path, data_dir: Path, user_id: str) -> None:
    with make_run(tmp_path / "first.log", data_dir) as server:
        api = server.api()
        created = [api.post(f"/users/{user_id}/tasks", {"title": f"t{i}"}).json() for i in range(3)]
        for task in created:
            assert_task(task, user_id=user_id)
        assert len(descendants(server.process.pid)) >= 2  # python and at least one worker
        stop_like_ctrl_c(server, data_dir)

    with make_run(tmp_path / "second.log", data_dir) as server:
        assert server.api().get(f"/users/{user_id}/tasks").json() == created
        os.kill(server.process.pid, 0)
        stop_like_ctrl_c(server, data_dir)
