"""`make db`'s parts: the bridge address it listens on, the passwords it keeps, the URLs it writes."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from local.devdb.tcp_access import interface_address, passwords_for, tcp_url, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_interface_address_reads_the_machines_interfaces() -> None:
    # The same call finds docker0's address where Docker Engine runs.
    assert interface_address("lo") == ("127.0.0.1" if sys.platform.startswith("linux") else None)
    assert interface_address("no-such-if0") is None


def test_passwords_are_made_once_kept_and_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "db-passwords.json"
    first = passwords_for(path, ["tasks_app", "postgres"])
    assert mode(path) == 0o600
    assert len(set(first.values())) == 2
    assert passwords_for(path, ["tasks_app", "postgres"]) == first

    # Widened by hand, and another API role (DB_APP_ROLE): the old passwords stay, the file is 0600.
    path.chmod(0o644)
    renamed = passwords_for(path, ["tasks_api", "postgres"])
    assert renamed["postgres"] == first["postgres"]
    assert renamed["tasks_api"] not in first.values()
    assert json.loads(path.read_text()) == {**first, **renamed}
    assert mode(path) == 0o600


def test_private_files_ignore_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "sam-env.json"
    path.write_text("{}")
    path.chmod(0o666)
    previous = os.umask(0)
    try:
        write_private(path, '{"Parameters": {}}')
    finally:
        os.umask(previous)
    assert mode(path) == 0o600
    assert path.read_text() == '{"Parameters": {}}'


def test_urls_carry_any_password_and_host_to_libpq() -> None:
    url = tcp_url("tasks_app", "p@ss:/w?rd#%", "::1", 15432, "postgres")
    assert conninfo_to_dict(url) == {
        "user": "tasks_app",
        "password": "p@ss:/w?rd#%",
        "host": "::1",
        "port": "15432",
        "dbname": "postgres",
    }
    assert conninfo_to_dict(tcp_url("postgres", "x", "host.docker.internal", 5432, "tasks"))["host"] == (
        "host.docker.internal"
    )
