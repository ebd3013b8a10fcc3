"""End-to-end fixtures: real `python -m local serve` processes on free ports, each on a fresh
database of the session's PostgreSQL, driven over real HTTP.

All end-to-end tests share one xdist group, so one test worker starts the servers once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.devdb.database import scratch_database
from tests.e2e.server import FIXTURES, HttpApi, LocalServer, local_server

E2E = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep every end-to-end test on one xdist worker, with the servers it starts."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(E2E):
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.fixture(scope="session")
def product_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """template.yaml served on a fresh database."""
    with scratch_database(server_url, prefix="tasks_e2e") as url:
        log = tmp_path_factory.mktemp("product") / "server.log"
        with local_server(log, env={"DATABASE_URL": url}) as server:
            yield server


@pytest.fixture(scope="session")
def http_api(product_server: LocalServer) -> HttpApi:
    """A client of the product server."""
    return product_server.api()


@pytest.fixture
def api(http_api: HttpApi) -> HttpApi:
    """The contract tests' `api`, here over HTTP through the local gateway."""
    return http_api


@pytest.fixture(scope="session")
def probe_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The fixture template (tests/e2e/fixtures) served with an env-vars file and an override."""
    folder = tmp_path_factory.mktemp("probe")
    env_vars = folder / "env.json"
    env_vars.write_text(
        json.dumps(
            {
                "EchoFunction": {"OVERRIDDEN": "from-file", "UNDECLARED": "x"},
                "Parameters": {"REGION_NAME": "from-parameters"},
            }
        )
    )
    args = ["--template", str(FIXTURES / "template.yaml"), "--env-vars", str(env_vars), "--no-reload"]
    args += ["--parameter-overrides", "Greeting=hello-param"]
    with (
        scratch_database(server_url, prefix="tasks_probe") as url,
        local_server(folder / "server.log", args, env={"DATABASE_URL": url}) as server,
    ):
        yield server


@pytest.fixture(scope="session")
def probe(probe_server: LocalServer) -> HttpApi:
    """A client of the fixture template's server."""
    return probe_server.api()
