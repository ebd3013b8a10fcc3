"""`python -m ops.smoke` (`make smoke`) against `make run`-like serving, with and without the JWT
authorizer, and against servers that break the contract, so the checker itself can fail.
"""

from __future__ import annotations

import http.client
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.devdb.database import scratch_database
from local.template import PROJECT_ROOT
from tests.e2e.server import HttpApi, LocalServer, local_server

CHECKS = [
    "health",
    "create",
    "create-with-key",
    "create-replay",
    "create-key-reused",
    "get-etag",
    "get-if-none-match",
    "update-if-match",
    "update-stale-if-match",
    "update",
    "list-filter-next-page",
    "validation-error",
    "other-users-task",
    "delete",
    "cleanup",
]
CHECKS_WITH_TOKEN = [*CHECKS[:-2], "no-token-401", *CHECKS[-2:]]


@dataclass
class SmokeRun:
    """One run of the checker: exit status, each check's PASS/FAIL line by name, the user."""

    returncode: int
    output: str
    lines: dict[str, str]
    order: list[str]
    user: str
    elapsed_s: float

    def failed(self) -> set[str]:
        """Names of the checks that failed."""
        return {name for name, line in self.lines.items() if line.startswith("FAIL")}


def run_smoke(base_url: str, *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 300) -> SmokeRun:
    """`python -m ops.smoke BASE_URL ARGS` as an infra team runs it, in a process of its own.

    Without site-packages (-S), as a bare python3 would: anything beyond the standard library fails.
    """
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-s", "-m", "ops.smoke", base_url, *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
        check=False,
    )
    elapsed = time.monotonic() - started
    lines: dict[str, str] = {}
    order: list[str] = []
    user = ""
    for line in result.stdout.splitlines():
        if line.startswith(("PASS ", "FAIL ")):
            name = line[5:].split(":", 1)[0]
            assert name not in lines, f"{name} reported twice:\n{result.stdout}"
            lines[name] = line
            order.append(name)
        elif line.startswith("smoke check of "):
            user = line.split(" as user ", 1)[1].split(" ", 1)[0]
    return SmokeRun(result.returncode, result.stdout + result.stderr, lines, order, user, elapsed)


@pytest.fixture(scope="module")
def product_run(product_server: LocalServer) -> SmokeRun:
    """One smoke run against the product served as `make run` serves it."""
    return run_smoke(product_server.base_url)


def test_every_check_reports_one_line_in_order(product_run: SmokeRun) -> None:
    assert product_run.order == CHECKS, product_run.output
    assert product_run.output.rstrip().splitlines()[-1].endswith(" s")  # the summary line


def test_every_check_passes_against_make_run(product_run: SmokeRun) -> None:
    assert product_run.returncode == 0, product_run.output
    assert product_run.failed() == set(), product_run.output


def test_the_run_leaves_none_of_its_tasks(product_run: SmokeRun, http_api: HttpApi) -> None:
    assert product_run.user.startswith("smoke-")
    listed = http_api.get(f"/users/{product_run.user}/tasks")
    assert (listed.status, listed.json()) == (200, [])


@pytest.fixture(scope="module")
def auth_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """template.yaml served with its JWT authorizer on."""
    log = tmp_path_factory.mktemp("smoke-jwt") / "server.log"
    args = ["--parameter-overrides", "AuthEnabled=true", "--no-reload"]
    with (
        scratch_database(server_url, prefix="tasks_smoke_jwt") as url,
        local_server(log, args, env={"DATABASE_URL": url}) as server,
    ):
        yield server


def test_with_a_token_the_checks_run_as_the_tokens_user(auth_server: LocalServer) -> None:
    user = f"smoke-token-{os.urandom(4).hex()}"
    token = subprocess.run(
        [sys.executable, "-m", "local", "token", user],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
        timeout=60,
    ).stdout.strip()
    run = run_smoke(auth_server.base_url, env={"SMOKE_TOKEN": token})
    assert run.user == user
    assert run.order == CHECKS_WITH_TOKEN, run.output
    assert run.returncode == 0, run.output
    assert run.failed() == set(), run.output
    # A token is for one user: another user's path is the functions' 403 (or 404).
    assert "403 forbidden" in run.lines["other-users-task"] or "404 not_found" in run.lines["other-users-task"]
    listed = auth_server.api().get(f"/users/{user}/tasks", headers={"authorization": f"Bearer {token}"})
    assert (listed.status, listed.json()) == (200, [])


def test_a_token_whose_user_cannot_be_read_is_a_usage_error(product_server: LocalServer) -> None:
    run = run_smoke(product_server.base_url, env={"SMOKE_TOKEN": "not-a-jwt"}, timeout_s=60)
    assert run.returncode == 2
    assert run.lines == {}
    assert "--user" in run.output


# --- servers that break the contract ------------------------------------------------------------


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stdlib HTTP server on a free port in a thread; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Every method the API serves goes to `respond`."""

    def respond(self) -> None:
        """Answer the request."""
        raise NotImplementedError

    def do_GET(self) -> None:
        self.respond()

    def do_POST(self) -> None:
        self.respond()

    def do_PUT(self) -> None:
        self.respond()

    def do_PATCH(self) -> None:
        self.respond()

    def do_DELETE(self) -> None:
        self.respond()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the checker's output, not the server's."""

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class AlwaysOk(_Handler):
    """Answers 200 `{}` to everything."""

    def respond(self) -> None:
        self._body()
        self._answer(200, b"{}", {"Content-Type": "application/json"})


def test_fails_every_check_of_a_server_that_answers_200_to_everything() -> None:
    with serving(AlwaysOk) as base_url:
        run = run_smoke(base_url, "--timeout", "5", timeout_s=120)
    assert run.returncode == 1, run.output
    assert run.order == CHECKS, run.output
    # /health's 200 `{}` is not `{"status": "ok", "database": "ok"}` either; the cleanup has nothing to do.
    assert run.failed() == set(CHECKS) - {"cleanup"}, run.output
    assert "expected status ok, database ok" in run.lines["health"]
    assert "expected 201, got 200" in run.lines["create"]


def proxy_to(target: LocalServer, drop_header: str) -> type[_Handler]:
    """A handler that forwards to `target` and removes one response header."""

    class Proxy(_Handler):
        def respond(self) -> None:
            connection = http.client.HTTPConnection(target.host, target.port, timeout=60)
            try:
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                connection.request(self.command, self.path, body=self._body() or None, headers=headers)
                response = connection.getresponse()
                kept = {
                    name: value
                    for name, value in response.getheaders()
                    if name.lower() not in {drop_header.lower(), "content-length", "connection", "transfer-encoding"}
                }
                self._answer(response.status, response.read(), kept)
            finally:
                connection.close()

    return Proxy


def test_pinpoints_a_missing_link_header(product_server: LocalServer) -> None:
    with serving(proxy_to(product_server, drop_header="Link")) as base_url:
        run = run_smoke(base_url)
    assert run.returncode == 1
    assert run.failed() == {"list-filter-next-page"}, run.output
    assert 'no Link rel="next"' in run.lines["list-filter-next-page"]
    for name in ("health", "create", "update", "validation-error", "other-users-task", "delete", "cleanup"):
        assert run.lines[name].startswith("PASS"), run.output


def test_a_server_that_never_answers_is_failed_within_the_time_bound() -> None:
    # Connections are accepted by the kernel (the listen backlog) and never answered.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        run = run_smoke(base_url, "--timeout", "1", "--total-timeout", "3", timeout_s=120)
    assert run.returncode == 1, run.output
    assert run.order == CHECKS, run.output
    assert run.failed() == set(CHECKS) - {"cleanup"}, run.output
    assert "timed out" in run.lines["health"], run.output
    assert "time bound" in run.lines["create-key-reused"], run.output
    # Three requests of 1 s at most, then the rest fail at once: "did not hang", with slack.
    assert run.elapsed_s < 60, run.output


def test_usage_errors_exit_2_without_a_request() -> None:
    for args in (["ftp://example.com"], ["http://127.0.0.1:9", "--timeout", "0"]):
        run = run_smoke(*args, timeout_s=60)
        assert run.returncode == 2, run.output
        assert run.lines == {}


def test_runs_as_a_single_file_copied_anywhere(tmp_path: Path) -> None:
    # What an infra team may do instead of checking out the repository: copy the one file.
    copy = tmp_path / "smoke.py"
    copy.write_text((PROJECT_ROOT / "ops" / "smoke.py").read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(copy), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "base_url" in result.stdout
