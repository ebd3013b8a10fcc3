"""`make run` serves as the API's role: checked from the database side, in pg_stat_activity."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg

from tasks_core.migrate import DEFAULT_APP_ROLE
from tests.e2e.test_make_run import make_run, stop_like_ctrl_c
from tests.support.contract import assert_task


def owner_url(data_dir: Path) -> str:
    """The embedded server of `data_dir`, as its superuser (socket folder and port from postmaster.pid)."""
    lines = (data_dir / "postmaster.pid").read_text().splitlines()
    port, socket_dir = lines[3].strip(), lines[4].strip()
    return f"postgresql://postgres@/postgres?host={socket_dir}&port={port}"


def test_the_api_connects_as_its_own_role(tmp_path: Path, user_id: str) -> None:
    # Outside pytest's temporary folder, as tests/conftest.py explains.
    with tempfile.TemporaryDirectory(prefix="tasks-make-run-roles-") as folder:
        data_dir = Path(folder) / "pgdata"
        with make_run(tmp_path / "server.log", data_dir) as server:
            api = server.api()
            created = api.post(f"/users/{user_id}/tasks", {"title": "as the API's role"}).json()
            assert_task(created, user_id=user_id)
            assert api.get(f"/users/{user_id}/tasks").status == 200
            assert api.get("/health").json() == {"status": "ok", "database": "ok"}
            with psycopg.connect(owner_url(data_dir)) as conn:
                sessions = conn.execute(
                    "SELECT a.usename, a.application_name, r.rolsuper, r.rolcreaterole, r.rolcreatedb"
                    " FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid"
                    " WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
                ).fetchall()
            stop_like_ctrl_c(server, data_dir)
    # The functions' connections (one per warm worker: create, list, health) and nothing else:
    # the migrations' owner connection is closed once they are applied.
    assert len(sessions) >= 3, sessions
    assert set(sessions) == {(DEFAULT_APP_ROLE, "tasks-api", False, False, False)}
