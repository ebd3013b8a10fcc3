"""`make db`: the development database on TCP too, for `sam local` and its Docker containers.

`sam local start-api` and `sam local invoke` run each function in a Docker container, which
cannot reach the embedded server's Unix socket. `make db` starts the same server, on the same
data (`.local/pgdata`), listening on TCP as well, migrates it as the owner, gives the API's role
and the owner a password each, and writes a `--env-vars` file that points every function at it
as the API's role and the migrations function as the owner. It runs in the foreground until
Ctrl-C or SIGTERM, like `make run`, and then stops PostgreSQL (unless a `make run` started
meanwhile still uses it: the last of the two to stop stops it).

Choices (docs/sam-local.md says the same for users):

- Where it listens: 127.0.0.1, plus the address of the `docker0` bridge when this machine has
  one (Docker Engine on Linux: containers on the default bridge reach the host there). Docker
  Desktop (macOS, Windows) has no bridge on the host; its containers reach the host's loopback
  through `host.docker.internal`. Not 0.0.0.0 by default: the database would be reachable from
  the whole network, password or not. `--listen '*'` (or any list) for other setups.
- What the containers connect to: the bridge's address when there is one, else
  `host.docker.internal` (`--container-host` names another).
- Authentication: TCP needs a password (scram-sha-256; local/devdb/database.py's TCP_HBA), the
  Unix socket stays trusted for `make run` and the tests. The passwords are random, made once
  and kept in `.local/db-passwords.json` (mode 0600); the env-vars file holds them too (0600).
- The port: 15432 by default, so a PostgreSQL of the machine's own on 5432 does not collide.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import struct
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from local.devdb.database import DEFAULT_DATA_DIR, DatabaseUrls, EmbeddedPostgres, TcpListen, app_role, migrated
from local.output import emit

DEFAULT_PORT = 15432
# Docker Engine's default bridge on Linux; the containers' gateway to the host.
DOCKER_BRIDGE = "docker0"
# The name Docker Desktop gives the host inside containers.
DOCKER_DESKTOP_HOST = "host.docker.internal"
# The function whose environment names the owner (template.yaml): it applies the migrations.
MIGRATIONS_FUNCTION = "MigrateFunction"
PASSWORDS_FILE = "db-passwords.json"
ENV_VARS_FILE = "sam-env.json"
PASSWORD_BYTES = 32
# Linux's ioctl for an interface's IPv4 address (linux/sockios.h).
SIOCGIFADDR = 0x8915


def interface_address(name: str) -> str | None:
    """The IPv4 address of a network interface of this machine (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import fcntl  # noqa: PLC0415 (Unix only)

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            request = struct.pack("256s", name.encode()[:15])
            answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])  # ifreq: 16 bytes of name, then a sockaddr_in


def default_listen() -> tuple[str, ...]:
    """127.0.0.1, and the Docker bridge's address when there is one."""
    bridge = interface_address(DOCKER_BRIDGE)
    return ("127.0.0.1", bridge) if bridge else ("127.0.0.1",)


def default_container_host() -> str:
    """How a container reaches this machine: the Docker bridge's address, or Docker Desktop's name."""
    return interface_address(DOCKER_BRIDGE) or DOCKER_DESKTOP_HOST


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (mode 0600), whatever the umask or its mode before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text)


def passwords_for(path: Path, roles: Iterable[str]) -> dict[str, str]:
    """Each role's password from `path`, made (random) and saved there the first time."""
    saved: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    passwords = {role: saved.get(role) or secrets.token_urlsafe(PASSWORD_BYTES) for role in roles}
    kept = {**saved, **passwords}
    if not path.exists() or kept != saved or path.stat().st_mode & 0o077:
        write_private(path, json.dumps(kept, indent=2) + "\n")
    return passwords


def set_passwords(owner_url: str, passwords: dict[str, str]) -> None:
    """Give each role its password, sent as a SCRAM verifier (the server never sees the text)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for role, password in passwords.items():
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))


def tcp_url(role: str, password: str, host: str, port: int, database: str) -> str:
    """A libpq URI for `role` at host:port."""
    netloc = f"[{host}]" if ":" in host else host
    return f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{netloc}:{port}/{quote(database, safe='')}"


def sam_env_vars(urls: DatabaseUrls, app: str) -> dict[str, dict[str, str]]:
    """The `sam local --env-vars` file: every function on the API's role, the migrations as the owner.

    The template declares DB_AUTH_MODE and DATABASE_URL for every function whatever its
    parameters (DATABASE_URL under an Fn::If, which SAM CLI leaves empty), so these override
    them with the template's defaults, no --parameter-overrides needed.
    """
    return {
        "Parameters": {"DB_AUTH_MODE": "url", "DATABASE_URL": urls.app},
        MIGRATIONS_FUNCTION: {"DB_AUTH_MODE": "url", "DATABASE_URL": urls.owner, "DB_APP_ROLE": app},
    }


@dataclass(frozen=True)
class DbOptions:
    """What `make db` was asked for."""

    data_dir: Path = DEFAULT_DATA_DIR
    port: int = DEFAULT_PORT
    listen: tuple[str, ...] | None = None  # None: default_listen()
    container_host: str | None = None  # None: default_container_host()
    env_file: Path | None = None  # None: sam-env.json beside the data folder

    @property
    def passwords_file(self) -> Path:
        """Where the roles' passwords are kept: beside the data folder (.local/)."""
        return self.data_dir.parent / PASSWORDS_FILE

    @property
    def env_vars_file(self) -> Path:
        """The `--env-vars` file to write."""
        return self.env_file or self.data_dir.parent / ENV_VARS_FILE


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs; the previous handlers after it."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def check_login(url: str, role: str) -> None:
    """Log in over TCP with the password, as a container would; fail if that is not `role`."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    if row is None or row[0] != role:
        raise RuntimeError(f"logged in over TCP as {row}, not {role}")


def shown(path: Path) -> str:
    """A path as the developer would type it: relative to the current folder when inside it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def serve_database(options: DbOptions, stop: threading.Event) -> None:
    """Serve the development database on TCP until `stop` is set, then stop it."""
    listen = options.listen or default_listen()
    container_host = options.container_host or default_container_host()
    server = EmbeddedPostgres(options.data_dir, tcp=TcpListen(listen, options.port))
    owner_socket_url = server.start()
    try:
        app = app_role()
        migrated(owner_socket_url, app)
        socket_params = conninfo_to_dict(owner_socket_url)
        owner, database = str(socket_params["user"]), str(socket_params["dbname"])
        passwords = passwords_for(options.passwords_file, (app, owner))
        set_passwords(owner_socket_url, passwords)

        def urls_at(host: str) -> DatabaseUrls:
            return DatabaseUrls(
                app=tcp_url(app, passwords[app], host, options.port, database),
                owner=tcp_url(owner, passwords[owner], host, options.port, database),
            )

        here = "127.0.0.1" if {"*", "localhost", "127.0.0.1"} & set(listen) else listen[0]
        check_login(urls_at(here).app, app)
        env_file = shown(options.env_vars_file)
        write_private(options.env_vars_file, json.dumps(sam_env_vars(urls_at(container_host), app), indent=2) + "\n")
        addresses = ", ".join(f"{address}:{options.port}" for address in listen)
        emit(f"PostgreSQL of {shown(options.data_dir)} on {addresses} (TCP, password) and its Unix socket (make run)")
        emit(f"Roles: {app} (the API's), {owner} (the owner, for {MIGRATIONS_FUNCTION})")
        emit(f"Their passwords: {shown(options.passwords_file)}")
        emit(f"Wrote {env_file}: containers connect to {container_host}:{options.port}")
        emit(f"  sam local start-api --env-vars {env_file}")
        emit(f"  sam local invoke CreateTaskFunction -e events/create_task.json --env-vars {env_file}")
        emit("Ready for sam local (Ctrl-C to stop)")
        stop.wait()
        emit("Stopping")
    finally:
        server.stop()
