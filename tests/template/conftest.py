"""A local AWS stand-in (moto's server) and template.yaml packaged into it, shared by a worker's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.template.cloudformation import create_bucket, package
from tools.params import TEMPLATE_PATH
from tools.standin import aws_standin

BUCKET = "tasks-api-artifacts"
PREFIX = "tasks-api/ci"


@dataclass(frozen=True)
class Packaged:
    """template.yaml as `python -m tools.package` wrote it, and what it printed."""

    path: Path
    template: dict[str, Any]
    report: str


@pytest.fixture(scope="session")
def standin() -> Iterator[str]:
    """The URL of moto's server, in a process of its own for this worker's session."""
    with aws_standin() as url:
        yield url


@pytest.fixture(scope="session")
def packaged(standin: str, tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """template.yaml packaged into the stand-in's bucket (from its sources: no build needed)."""
    create_bucket(standin, BUCKET)
    output = tmp_path_factory.mktemp("package") / "packaged.yaml"
    result = package(standin, TEMPLATE_PATH, BUCKET, PREFIX, output)
    return Packaged(output, dict(yaml_parse(output.read_text(encoding="utf-8"))), result.stdout)
