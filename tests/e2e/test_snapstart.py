"""The local runtime's SnapStart mode: one snapshot process per function, workers forked from it
that run the after-restore hooks, Restore Duration in REPORT, fork safety, idle workers reclaimed.

Served from tests/e2e/fixtures/snapstart/template.yaml, whose functions use the product's layer;
the probe's init opens a database connection and draws a random number before the snapshot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local.devdb.database import scratch_database
from local.template import PROJECT_ROOT
from tests.e2e.server import FIXTURES, HttpApi, LocalServer, local_server
from tests.e2e.test_lambda import alive

TEMPLATE = FIXTURES / "snapstart" / "template.yaml"
NO_SNAPSTART = ("--parameter-overrides", "SnapStart=None")
SNAPSHOT_TAKEN = re.compile(r"^Snapshot of (\w+) taken: Init Duration: ([\d.]+) ms", re.M)


@pytest.fixture(scope="module")
def snap_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The SnapStart fixture template served with SnapStart on (the local default)."""
    folder = tmp_path_factory.mktemp("snapstart")
    with (
        scratch_database(server_url, prefix="tasks_snap") as url,
        local_server(folder / "server.log", ["--template", str(TEMPLATE), "--no-reload"], {"DATABASE_URL": url}) as s,
    ):
        yield s


@pytest.fixture(scope="module")
def snap(snap_server: LocalServer) -> HttpApi:
    """A client of it."""
    return snap_server.api()


def probe(api: HttpApi) -> dict[str, Any]:
    """One GET /probe: what answered it."""
    response = api.get("/probe")
    assert response.status == 200, response.body
    seen: dict[str, Any] = response.json()
    return seen


def probes_at_once(api: HttpApi, count: int) -> list[dict[str, Any]]:
    """`count` concurrent probes, each held by its worker for a moment so that several start."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: probe(api), range(count)))


def snapshot_taken(server: LocalServer, function: str, timeout_s: float = 60.0) -> float:
    """The Init Duration the snapshot of `function` reported, once it has."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, init_ms in SNAPSHOT_TAKEN.findall(server.log()):
            if name == function:
                return float(init_ms)
        time.sleep(0.05)
    raise AssertionError(f"no snapshot of {function}:\n{server.log()}")


class TestForkedWorkers:
    def test_every_function_is_initialized_once_before_any_request(self, snap_server: LocalServer) -> None:
        for function in ("ProbeFunction", "SleepFunction", "ExitFunction"):
            assert snapshot_taken(snap_server, function) > 0

    def test_workers_are_forks_of_the_snapshot_that_ran_the_init(self, snap: HttpApi) -> None:
        seen = probes_at_once(snap, 4)
        for one in seen:
            # The init ran once, in the snapshot process, which is every worker's parent.
            assert one["init_pid"] == one["ppid"] != one["pid"]
            assert one["initialization_type"] == "snap-start"
            assert one["log_group"] is None  # SnapStart functions do not get it, as in Lambda
        assert len({one["init_pid"] for one in seen}) == 1

    def test_a_connection_opened_before_the_fork_is_never_shared_by_two_workers(self, snap: HttpApi) -> None:
        seen = probes_at_once(snap, 6)
        workers = {one["pid"]: one["backend_pid"] for one in seen}
        assert len(workers) >= 2, seen  # several workers answered
        backends = list(workers.values())
        assert len(set(backends)) == len(backends)  # one server session per worker
        assert seen[0]["init_backend_pid"] not in backends  # none on the snapshot's connection

    def test_each_restored_worker_draws_its_own_random_numbers(self, snap: HttpApi) -> None:
        seen = probes_at_once(snap, 6)
        first_draws = {one["pid"]: one["first_random"] for one in seen}
        assert len(first_draws) >= 2, seen
        assert len(set(first_draws.values())) == len(first_draws)

    def test_a_new_worker_reports_restore_duration_not_init_duration(
        self, snap_server: LocalServer, snap: HttpApi
    ) -> None:
        probes_at_once(snap, 3)
        probe(snap)
        reports = re.findall(r"^REPORT RequestId: .*$", snap_server.log(), re.M)
        restores = [
            re.search(r"\tRestore Duration: ([\d.]+) ms\tBilled Restore Duration: (\d+) ms", r) for r in reports
        ]
        found = [(float(match.group(1)), int(match.group(2))) for match in restores if match]
        assert found, snap_server.log()
        for restore_ms, billed_ms in found:
            assert 0 < restore_ms < 10_000  # Lambda's limit for a restore
            assert billed_ms <= restore_ms + 1  # the hooks' share of it
        assert not any("Init Duration" in report for report in reports)  # the init was the snapshot's
        assert len(found) < len(reports)  # warm invocations report neither


class TestFailures:
    def test_a_timed_out_fork_is_killed_and_replaced(self, snap_server: LocalServer, snap: HttpApi) -> None:
        first = snap.get("/sleep/0")
        assert first.status == 200
        pid = first.json()["pid"]
        timed_out = snap.get("/sleep/3")  # Timeout: 1
        assert timed_out.status == 500
        assert "Task timed out after 1.00 seconds" in snap_server.log()
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid)
        again = snap.get("/sleep/0")
        assert again.status == 200
        assert again.json()["pid"] != pid

    def test_a_fork_that_exits_is_reported_with_its_exit_status(self, snap_server: LocalServer, snap: HttpApi) -> None:
        response = snap.get("/exit")
        assert response.status == 500
        deadline = time.monotonic() + 10
        while "Runtime exited with error: exit status 3" not in snap_server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Runtime exited with error: exit status 3" in snap_server.log()

    def test_a_failing_after_restore_hook_fails_the_invocation(self, snap_server: LocalServer, snap: HttpApi) -> None:
        response = snap.get("/restore-fails")
        assert response.status == 500
        log = snap_server.log()
        failed = r"^RESTORE_REPORT Restore Duration: [\d.]+ ms\tStatus: error\tError Type: RuntimeError$"
        assert re.search(failed, log, re.M), log
        assert "this environment cannot be restored" in log


class TestIdleWorkersAreReclaimed:
    def test_a_worker_idle_longer_than_the_timeout_is_stopped(self, server_url: str, tmp_path: Path) -> None:
        args = ["--template", str(TEMPLATE), "--no-reload", "--worker-idle-timeout", "1"]
        with (
            scratch_database(server_url, prefix="tasks_reclaim") as url,
            local_server(tmp_path / "server.log", args, {"DATABASE_URL": url}) as server,
        ):
            api = server.api()
            first = probe(api)
            assert probe(api)["pid"] == first["pid"]  # warm within the timeout
            deadline = time.monotonic() + 15
            while alive(first["pid"]) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not alive(first["pid"])
            later = probe(api)
            assert later["pid"] != first["pid"]
            assert later["ppid"] == first["ppid"]  # a new fork of the same snapshot


def test_without_snapstart_a_worker_imports_the_handler_and_reports_init_duration(
    server_url: str, tmp_path: Path
) -> None:
    with scratch_database(server_url, prefix="tasks_nosnap") as url:
        done = subprocess.run(
            [sys.executable, "-m", "local", "invoke", "ProbeFunction", "--template", str(TEMPLATE), *NO_SNAPSTART],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    report = re.search(r"^REPORT RequestId: .*$", done.stderr, re.M)
    assert report is not None, done.stderr
    assert "\tInit Duration: " in report.group(0)
    assert "Restore Duration" not in report.group(0)
    assert "Snapshot of" not in done.stderr
    seen = json.loads(done.stdout)
    assert seen["init_pid"] == seen["pid"]  # the worker ran the init itself
    assert seen["initialization_type"] == "on-demand"


def test_a_code_change_takes_a_new_snapshot_and_the_old_one_stops(server_url: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(TEMPLATE.parent, project)
    # The layer is the product's, wherever the copy is.
    template = (project / "template.yaml").read_text()
    (project / "template.yaml").write_text(template.replace("../../../../layers/", f"{PROJECT_ROOT}/layers/"))
    with (
        scratch_database(server_url, prefix="tasks_snap_reload") as url,
        local_server(
            tmp_path / "server.log", ["--template", str(project / "template.yaml")], {"DATABASE_URL": url}
        ) as s,
    ):
        api = s.api()
        before = probe(api)
        old_snapshot = before["ppid"]
        code = project / "functions" / "probe" / "app.py"
        code.write_text(code.read_text() + "\n# changed\n")
        deadline = time.monotonic() + 30
        after = before
        while after["ppid"] == old_snapshot and time.monotonic() < deadline:
            time.sleep(0.1)
            after = probe(api)
        assert after["ppid"] != old_snapshot  # served by a fork of a new snapshot of the new code
        assert after["init_pid"] == after["ppid"]
        while alive(old_snapshot) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(old_snapshot)  # its last worker stopped, and so did it
        assert not alive(before["pid"])
