"""`make db`: the embedded PostgreSQL on TCP for `sam local`'s containers, with passwords, and an
`--env-vars` file that serves the functions; Ctrl-C or SIGTERM leaves no PostgreSQL behind.

No Docker runs here, so the containers' side is what SAM CLI's own code computes from the
template and the file (the environment `sam local` gives each container), with the host the
containers would use swapped for 127.0.0.1, and the handlers invoked in this process with
exactly that environment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from local.devdb.database import EmbeddedPostgres
from local.devdb.tcp_access import DOCKER_BRIDGE, DOCKER_DESKTOP_HOST, MIGRATIONS_FUNCTION, interface_address
from local.template import PROJECT_ROOT, TEMPLATE_PATH, Function, load_functions
from tasks_core.migrate import migrate_database
from tasks_core.settings import Settings
from tests.e2e.server import LocalServer, local_server
from tests.e2e.test_make_run import descendants, wait_gone
from tests.support.api import InProcessApi
from tests.support.contract import assert_task
from tests.support.fresh_process import load_event
from tests.support.lambda_runtime import functions_use_database

READY = "Ready for sam local"
APP_ROLE = "tasks_app"
OWNER = "postgres"


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def make_db(log: Path, data_dir: Path, port: int, *, via_make: bool = True) -> Iterator[LocalServer]:
    """`make db` (or `python -m local db`) on `data_dir` and `port`, serving until the block ends."""
    args = ["--data-dir", str(data_dir), "--port", str(port)]
    command = (
        ["make", "--no-print-directory", "db", f"ARGS={' '.join(args)}"]
        if via_make
        else [sys.executable, "-m", "local", "db", *args]
    )
    server = LocalServer(command, log)
    server.start()
    try:
        deadline = time.monotonic() + 90
        while READY not in server.log():
            assert server.process.poll() is None, f"make db exited with {server.process.returncode}:\n{server.log()}"
            assert time.monotonic() < deadline, f"make db did not get ready:\n{server.log()}"
            time.sleep(0.05)
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


def postmaster_of(data_dir: Path) -> int:
    """The pid postmaster.pid names."""
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def stop_and_check_nothing_is_left(server: LocalServer, data_dir: Path, signum: int) -> None:
    """Signal `make db` as Ctrl-C (SIGINT to its group) or a service manager (SIGTERM) would."""
    processes = descendants(server.process.pid) | {server.process.pid, postmaster_of(data_dir)}
    server.stop(signum)
    assert wait_gone(processes) == set(), server.log()
    assert "Stopping" in server.log()
    assert "Traceback" not in server.log()
    assert not (data_dir / "postmaster.pid").exists()


def tcp(role: str, password: str, port: int) -> str:
    """A URL for `role` on TCP at 127.0.0.1."""
    return make_conninfo(host="127.0.0.1", port=port, user=role, password=password, dbname="postgres")


def passwords(data_dir: Path) -> dict[str, str]:
    """The roles' passwords `make db` keeps beside the data folder."""
    saved: dict[str, str] = json.loads((data_dir.parent / "db-passwords.json").read_text())
    return saved


def assert_owner_only(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


def assert_refused(url: str, *reasons: str) -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(url, connect_timeout=5).close()
    assert any(reason in str(refused.value) for reason in reasons), refused.value


# With no password in the URL libpq sends none, or PGPASSWORD's or ~/.pgpass's if the developer
# has one: refused either way.
WITHOUT_PASSWORD = ("no password supplied", "password authentication failed")


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder of its own standing for `.local/`, outside pytest's (tests/conftest.py says why)."""
    with tempfile.TemporaryDirectory(prefix="tasks-make-db-") as path:
        yield Path(path)


def test_password_logins_on_tcp_data_kept_and_nothing_left_after_ctrl_c_or_sigterm(folder: Path) -> None:
    data_dir, port = folder / "pgdata", free_port()
    with make_db(folder / "first.log", data_dir, port) as server:
        assert_owner_only(data_dir.parent / "db-passwords.json")
        assert_owner_only(data_dir.parent / "sam-env.json")
        first = passwords(data_dir)
        assert set(first) == {APP_ROLE, OWNER}
        assert first[APP_ROLE] != first[OWNER]
        assert min(len(password) for password in first.values()) >= 40  # 32 random bytes

        with psycopg.connect(tcp(APP_ROLE, first[APP_ROLE], port), autocommit=True) as conn:
            row = conn.execute(
                "SELECT current_user, inet_client_addr()::text, rolsuper, rolcreaterole"
                " FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert row == (APP_ROLE, "127.0.0.1/32", False, False)
            conn.execute("INSERT INTO users (id) VALUES ('kept-across-restarts')")
        with psycopg.connect(tcp(OWNER, first[OWNER], port)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (OWNER,)

        assert_refused(tcp(APP_ROLE, first[APP_ROLE] + "x", port), "password authentication failed")
        assert_refused(tcp(APP_ROLE, first[OWNER], port), "password authentication failed")
        assert_refused(tcp(OWNER, "", port), *WITHOUT_PASSWORD)
        assert_refused(tcp(APP_ROLE, "", port), *WITHOUT_PASSWORD)
        stop_and_check_nothing_is_left(server, data_dir, signal.SIGINT)

    # Again on the same folder: the same passwords and data, and SIGTERM stops it as well.
    env_file = (data_dir.parent / "sam-env.json").read_text()
    with make_db(folder / "second.log", data_dir, port) as server:
        assert passwords(data_dir) == first
        assert (data_dir.parent / "sam-env.json").read_text() == env_file
        with psycopg.connect(tcp(APP_ROLE, first[APP_ROLE], port)) as conn:
            assert conn.execute("SELECT id FROM users WHERE id = 'kept-across-restarts'").fetchone() is not None
        stop_and_check_nothing_is_left(server, data_dir, signal.SIGTERM)


def test_make_run_shares_the_server_and_the_last_to_stop_stops_it(folder: Path, user_id: str) -> None:
    data_dir, port = folder / "pgdata", free_port()
    with make_db(folder / "db.log", data_dir, port, via_make=False) as db:
        postmaster = postmaster_of(data_dir)
        app_url = tcp(APP_ROLE, passwords(data_dir)[APP_ROLE], port)
        run_args = ["--data-dir", str(data_dir), "--no-reload"]
        with local_server(folder / "run.log", run_args, env={"DATABASE_URL": ""}) as run:
            # `make run` adopts make db's server: on its socket (whose name carries the port).
            created = run.api().post(f"/users/{user_id}/tasks", {"title": "through make run"}).json()
            assert_task(created, user_id=user_id)
            with psycopg.connect(app_url) as conn:
                row = conn.execute("SELECT title FROM tasks WHERE id = %s", (created["id"],)).fetchone()
                assert row == ("through make run",)
            assert postmaster_of(data_dir) == postmaster

            db.stop(signal.SIGINT)  # make db first: make run still uses the server
            assert "Stopping" in db.log()
            assert wait_gone({postmaster}, timeout_s=1.0) == {postmaster}
            assert run.api().get(f"/users/{user_id}/tasks").json() == [created]
            with psycopg.connect(app_url) as conn:  # still on TCP, as make db started it
                assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)

            run.stop(signal.SIGINT)
            assert wait_gone({postmaster}) == set(), run.log()


def sam_local_environments(env_vars: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Each function's environment as `sam local --env-vars` gives it to its container.

    SAM CLI's own code (the runner `sam local invoke` and `start-api` use), on template.yaml with
    its default parameters, from a shell with nothing set that the template declares.
    """
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({name: saved[name] for name in ("PATH", "HOME") if name in saved})
    try:
        stacks, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE_PATH))
        provider = SamFunctionProvider(stacks)
        runner = LocalLambdaRunner(
            local_runtime=None,  # builds the invoke configuration only; no container runs
            function_provider=provider,
            cwd=str(PROJECT_ROOT),
            real_path=str(PROJECT_ROOT),
            env_vars_values=dict(env_vars),
        )
        return {
            function.name: dict(runner.get_invoke_config(function).env_vars.resolve())
            for function in provider.get_all()
        }
    finally:
        os.environ.clear()
        os.environ.update(saved)


def with_host(environment: Mapping[str, str], host: str) -> dict[str, str]:
    """The environment with DATABASE_URL's host replaced."""
    params = conninfo_to_dict(environment["DATABASE_URL"])
    return {**environment, "DATABASE_URL": make_conninfo("", **{**params, "host": host})}


@contextmanager
def exactly(environment: Mapping[str, str]) -> Iterator[None]:
    """This process's environment is `environment` and nothing else for the block, and the
    functions start a new execution environment in it (settings and connection)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        with functions_use_database(environment["DATABASE_URL"]):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class SamLocalApi(InProcessApi):
    """The template's routes, each function invoked in this process with exactly the environment
    `sam local` would give its container; records who the function was to PostgreSQL."""

    def __init__(
        self, functions: Mapping[str, Function], environments: Mapping[str, Mapping[str, str]], owner_url: str
    ) -> None:
        super().__init__(functions)
        self.environments = environments
        self.owner_url = owner_url
        self.sessions: set[tuple[str, str, str]] = set()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """One invocation in the function's own environment; its connection seen from the server."""
        with exactly(self.environments[logical_id]):
            result = super().invoke(logical_id, event)
            with psycopg.connect(self.owner_url) as conn:
                rows = conn.execute(
                    "SELECT usename, client_addr::text, application_name FROM pg_stat_activity"
                    " WHERE application_name = 'tasks-api'"
                ).fetchall()
            self.sessions.update((str(user), str(address), str(name)) for user, address, name in rows)
        return result


def test_the_env_vars_file_serves_the_functions_as_sam_local_would(folder: Path) -> None:
    data_dir, port = folder / "pgdata", free_port()
    with make_db(folder / "db.log", data_dir, port, via_make=False) as server:
        env_file = data_dir.parent / "sam-env.json"
        assert f"Wrote {env_file}" in server.log()
        environments = sam_local_environments(json.loads(env_file.read_text()))
        functions = load_functions()
        assert set(environments) == set(functions)

        # What each container gets: the API's role, or the owner for the migrations, at the host
        # containers reach this machine by: docker0's address, or Docker Desktop's name without it.
        container_host = interface_address(DOCKER_BRIDGE) or DOCKER_DESKTOP_HOST
        for name, environment in environments.items():
            params = conninfo_to_dict(environment["DATABASE_URL"])
            role = OWNER if name == MIGRATIONS_FUNCTION else APP_ROLE
            assert environment["DB_AUTH_MODE"] == "url", name
            assert (params["user"], params["password"]) == (role, passwords(data_dir)[role]), name
            assert (params["host"], params["port"]) == (container_host, str(port)), name
        assert environments[MIGRATIONS_FUNCTION]["DB_APP_ROLE"] == APP_ROLE

        here = {name: with_host(environment, "127.0.0.1") for name, environment in environments.items()}
        api = SamLocalApi(functions, here, tcp(OWNER, passwords(data_dir)[OWNER], port))

        # `sam local invoke CreateTaskFunction -e events/create_task.json`, then the routes.
        event = load_event("create_task.json")
        created = api.invoke("CreateTaskFunction", event)
        assert created["statusCode"] == 201, created
        task = json.loads(created["body"])
        user_id = event["pathParameters"]["user_id"]
        assert_task(task, user_id=user_id)
        assert api.get(f"/users/{user_id}/tasks/{task['id']}").json() == task
        assert api.get(f"/users/{user_id}/tasks").json() == [task]
        health = api.get("/health")
        assert (health.status, health.json()) == (200, {"status": "ok", "database": "ok"})
        # Every session of the functions was the API's role, on TCP from 127.0.0.1.
        assert api.sessions == {(APP_ROLE, "127.0.0.1/32", "tasks-api")}

        # The migrations function's settings connect as the owner, and find nothing to apply.
        with exactly(here[MIGRATIONS_FUNCTION]):
            settings = Settings.from_env(os.environ).database
            assert settings.url is not None
            with psycopg.connect(settings.url.get_secret_value()) as conn:
                assert conn.execute("SELECT current_user").fetchone() == (OWNER,)
            assert migrate_database(settings) == []
        stop_and_check_nothing_is_left(server, data_dir, signal.SIGINT)


def run_db(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """`python -m local db ARGS` that is expected to give up at once."""
    return subprocess.run(
        [sys.executable, "-m", "local", "db", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_server_running_without_tcp_is_not_restarted_under_its_users(folder: Path) -> None:
    # `make run` (or the tests) holds the folder's server on its Unix socket only.
    server = EmbeddedPostgres(folder / "pgdata")
    socket_url = server.start()
    try:
        refused = run_db(["--data-dir", str(folder / "pgdata"), "--port", str(free_port())])
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "is already running" in refused.stdout
        assert "on its Unix socket only" in refused.stdout
        # Untouched: still serving on its socket, no passwords made.
        psycopg.connect(socket_url).close()
        assert not (folder / "db-passwords.json").exists()
    finally:
        server.stop()


def test_a_taken_port_is_refused_at_once(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = run_db(["--data-dir", str(folder / "pgdata"), "--port", str(port)])
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"cannot listen on 127.0.0.1 port {port}" in refused.stdout
    assert "another program listens there" in refused.stdout
    assert not (folder / "pgdata" / "postmaster.pid").exists()


@pytest.mark.parametrize("listen", ["127.0.0.1;touch /tmp/x", "db.example.com", ""])
def test_listen_takes_addresses_only(folder: Path, listen: str) -> None:
    # They reach PostgreSQL's command line, which pg_ctl runs through a shell.
    refused = run_db(["--data-dir", str(folder / "pgdata"), "--listen", listen])
    assert refused.returncode == 2
    assert "--listen" in refused.stderr
    assert not (folder / "pgdata").exists()
