"""Lambda's side: environment, context, cold and warm starts, timeouts, crashes, concurrency."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.e2e.server import FIXTURES, HttpApi, LocalServer


def report_line(server: LocalServer, request_id: str, timeout_s: float = 5.0) -> str:
    """The REPORT line of an invocation (it may follow the response by a moment)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(rf"^REPORT RequestId: {request_id}\t.*$", server.log(), re.M)
        if found:
            return found.group(0)
        time.sleep(0.02)
    raise AssertionError(f"no REPORT for {request_id}:\n{server.log()}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not collected it yet.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def echo(probe: HttpApi, path: str = "/echo/x") -> dict[str, Any]:
    response = probe.get(path)
    assert response.status == 200, response.body
    seen: dict[str, Any] = response.json()
    return seen


class TestEnvironmentAndContext:
    def test_environment_is_globals_function_overrides_and_lambdas(self, probe: HttpApi) -> None:
        env = echo(probe)["env"]
        assert env == {
            "GREETING": "hello-param",  # !Ref of a parameter, from --parameter-overrides
            "SUBBED": "hello-param@us-east-1",  # !Sub
            "REGION_NAME": "from-parameters",  # the env-vars file's Parameters
            "OVERRIDDEN": "from-file",  # the env-vars file's function entry
            "FUNCTION_ONLY": "echo",  # the function's own Environment over Globals
            "AWS_LAMBDA_FUNCTION_NAME": "EchoFunction",
            "LAMBDA_TASK_ROOT": str(FIXTURES / "functions" / "probe"),
        }

    def test_undeclared_override_is_ignored_and_said(self, probe: HttpApi, probe_server: LocalServer) -> None:
        assert "UNDECLARED" not in echo(probe)["env"]
        assert "Ignored EchoFunction.UNDECLARED" in probe_server.log()

    def test_context(self, probe: HttpApi) -> None:
        context = echo(probe)["context"]
        assert context["function_name"] == "EchoFunction"
        assert context["memory_limit_in_mb"] == 256
        assert 2000 < context["remaining_ms"] <= 5000  # Timeout: 5 (slack for a loaded machine)

    def test_layer_and_code_folder_as_in_lambda(self, probe: HttpApi) -> None:
        seen = echo(probe)
        code = str(FIXTURES / "functions" / "probe")
        assert seen["layer"] == "layer-v1"
        assert seen["cwd"] == code
        assert seen["sys_path"][:2] == [code, str(FIXTURES / "layer")]
        assert str(Path(__file__).resolve().parents[2]) not in seen["sys_path"]


class TestColdAndWarm:
    def test_second_request_is_warm_on_the_same_worker(self, probe: HttpApi, probe_server: LocalServer) -> None:
        first, second = echo(probe, "/echo/a"), echo(probe, "/echo/b")
        assert first["pid"] == second["pid"]
        for seen in (first, second):
            assert seen["context"]["aws_request_id"] in probe_server.log()
        warm = report_line(probe_server, second["context"]["aws_request_id"])
        assert "Init Duration" not in warm
        assert re.search(
            r"Duration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB", warm
        )
        log = probe_server.log()
        request_id = second["context"]["aws_request_id"]
        assert log.index(f"START RequestId: {request_id}") < log.index(f"END RequestId: {request_id}")

    def test_cold_start_reports_init_duration(self, probe: HttpApi, probe_server: LocalServer) -> None:
        response = probe.get("/crash/answer")  # CrashFunction's first worker of this test
        assert response.status == 200
        log = probe_server.log()
        cold = [line for line in log.splitlines() if line.startswith("REPORT") and "Init Duration" in line]
        assert cold
        assert all(re.search(r"\tInit Duration: [\d.]+ ms$", line) for line in cold)


class TestFailures:
    def test_timeout_is_killed_and_500(self, probe: HttpApi, probe_server: LocalServer) -> None:
        before = probe.get("/timeout/0").json()["pid"]
        started = time.monotonic()
        response = probe.get("/timeout/3")
        elapsed = time.monotonic() - started
        assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})
        assert 0.9 < elapsed < 2.9  # Timeout: 1; the handler would answer 200 at 3 s if not killed
        assert "Task timed out after 1.00 seconds" in probe_server.log()
        assert "Status: timeout" in probe_server.log()
        after = probe.get("/timeout/0").json()["pid"]
        assert after != before
        deadline = time.monotonic() + 5
        while alive(before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(before)

    def test_integration_timeout_is_503(self, probe: HttpApi) -> None:
        started = time.monotonic()
        response = probe.get("/integration-timeout/1.5")
        assert (response.status, response.json()) == (503, {"message": "Service Unavailable"})
        # TimeoutInMillis: 300, plus a possible cold start; the handler would answer after 1.5 s.
        assert time.monotonic() - started < 3

    def test_crash_is_500_and_the_worker_is_replaced(self, probe: HttpApi, probe_server: LocalServer) -> None:
        before = probe.get("/crash/answer").json()["pid"]
        response = probe.get("/crash/exit")
        assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})
        assert "Runtime exited with error: exit status 3" in probe_server.log()
        assert "Runtime.ExitError" in probe_server.log()
        assert probe.get("/crash/answer").json()["pid"] != before

    def test_raising_handler_is_500_logged_and_replaced(self, probe: HttpApi, probe_server: LocalServer) -> None:
        before = probe.get("/crash/answer").json()["pid"]
        response = probe.get("/crash/raise")
        assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})
        assert "[ERROR] RuntimeError: boom\nTraceback (most recent call last):" in probe_server.log()
        assert probe.get("/crash/answer").json()["pid"] != before

    def test_import_error_is_500_with_an_init_report(self, probe: HttpApi, probe_server: LocalServer) -> None:
        response = probe.get("/broken")
        assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})
        assert "Unable to import module 'missing_module'" in probe_server.log()
        assert "Phase: init\tStatus: error\tError Type: Runtime.ImportModuleError" in probe_server.log()


def test_reserved_concurrency_limits_workers_and_the_rest_wait(probe: HttpApi) -> None:
    probe.get("/sleep/0")  # one warm worker, so the timing below is not a cold start's
    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: probe.get("/sleep/0.4"), range(6)))
    elapsed = time.monotonic() - started
    assert [response.status for response in responses] == [200] * 6
    pids = {response.json()["pid"] for response in responses}
    assert len(pids) == 2  # ReservedConcurrentExecutions: 2
    assert elapsed >= 3 * 0.4  # six requests, two at a time
