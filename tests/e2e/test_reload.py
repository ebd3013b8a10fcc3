"""Hot reload: a saved change is served by the next request, while requests keep flowing."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.devdb.database import scratch_database
from tests.e2e.server import FIXTURES, HttpApi, LocalServer, local_server


@pytest.fixture
def copied_server(server_url: str, tmp_path: Path) -> Iterator[tuple[LocalServer, Path]]:
    """The fixture template served from a copy that the test may edit."""
    folder = tmp_path / "project"
    shutil.copytree(FIXTURES, folder)
    with scratch_database(server_url, prefix="tasks_reload") as url:
        args = ["--template", str(folder / "template.yaml")]
        with local_server(tmp_path / "server.log", args, env={"DATABASE_URL": url}) as server:
            yield server, folder


def save(path: Path, old: str, new: str) -> float:
    """Save an edit the way editors do (write a new file, rename it over); return when."""
    text = path.read_text()
    assert old in text
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text.replace(old, new))
    os.replace(temporary, path)
    return time.monotonic()


def test_edits_are_served_without_failing_a_request(copied_server: tuple[LocalServer, Path]) -> None:
    server, folder = copied_server
    api: HttpApi = server.api()
    assert api.get("/echo/x").json()["version"] == "v1"
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            statuses.append(api.get("/sleep/0.05").status)  # in flight across the edits

    flowing = threading.Thread(target=traffic)
    flowing.start()
    try:
        saved = save(folder / "functions" / "probe" / "app.py", 'VERSION = "v1"', 'VERSION = "v2"')
        while api.get("/echo/x").json()["version"] != "v2":
            assert time.monotonic() - saved < 10, server.log()
        function_reload = time.monotonic() - saved

        saved = save(folder / "layer" / "probe_layer.py", 'MARKER = "layer-v1"', 'MARKER = "layer-v2"')
        while api.get("/echo/x").json()["layer"] != "layer-v2":
            assert time.monotonic() - saved < 10, server.log()
        layer_reload = time.monotonic() - saved
    finally:
        stop.set()
        flowing.join()
    assert statuses
    assert set(statuses) == {200}
    assert "Reloading" in server.log()
    # Save to served, including the new worker's cold start. The 1 s goal is measured by
    # `python -m bench.local_runtime` (not part of `make bench`), not here: this machine may be busy.
    assert function_reload < 10
    assert layer_reload < 10
