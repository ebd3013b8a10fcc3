"""`make package` (python -m tools.package): the packaged template, its objects, its content hash, its checks.

Everything runs offline: `sam package` uploads into moto's server standing in for S3.
"""

from __future__ import annotations

import copy
import difflib
import glob
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from local.template import load_template
from tests.template.cloudformation import client, create_bucket, package, run_tool
from tests.template.conftest import BUCKET, PREFIX, Packaged
from tests.template.sam import REGION
from tools.package import ARTIFACT_METADATA
from tools.params import PROJECT_ROOT

CODE_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
SOURCES = ("template.yaml", "functions", "layers")


def code_locations(template: dict[str, Any]) -> dict[str, str]:
    """CodeUri or ContentUri of each function and layer."""
    return {
        logical_id: resource["Properties"][CODE_PROPERTIES[resource["Type"]]]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in CODE_PROPERTIES
    }


def without_code_locations(template: dict[str, Any]) -> dict[str, Any]:
    """The template minus code locations, sam build's SamResourceId and the artifact's hash."""
    template = copy.deepcopy(template)
    template.get("Metadata", {}).pop(ARTIFACT_METADATA, None)
    for resource in template["Resources"].values():
        if resource["Type"] in CODE_PROPERTIES:
            del resource["Properties"][CODE_PROPERTIES[resource["Type"]]]
        metadata = resource.get("Metadata", {})
        metadata.pop("SamResourceId", None)
        if "Metadata" in resource and not metadata:
            del resource["Metadata"]
    return template


def assert_same_template(built: dict[str, Any], source: dict[str, Any]) -> None:
    """The same template as CloudFormation reads it (JSON, keys sorted), or a unified diff.

    Compared as JSON text, not as Python objects: SAM CLI's `yaml_parse` changes PyYAML's global
    SafeLoader (timestamps read as strings, mappings as OrderedDicts, its own `!` tags), so what a
    parse returns in this process depends on whether another test in the same worker ran SAM CLI's
    parser first; the two templates were then not `==` while their JSON was identical
    (clean-clone runs under -n 2).
    """
    built_lines, source_lines = (
        json.dumps(template, indent=1, sort_keys=True, default=str).splitlines() for template in (built, source)
    )
    diff = list(difflib.unified_diff(built_lines, source_lines, "built", "source", lineterm="", n=3))
    assert not diff, "the built template differs from template.yaml:\n" + "\n".join(diff)


def artifact_hash(template: dict[str, Any]) -> str:
    value: str = template["Metadata"][ARTIFACT_METADATA]["ContentHash"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", value)
    return value.removeprefix("sha256:")


def object_bytes(url: str, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body: bytes = client(url, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def copy_sources(target: Path) -> Path:
    """template.yaml and the code it packages, without caches: a checkout of this commit."""
    target.mkdir()
    for name in SOURCES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target / "template.yaml"


def test_every_function_and_the_layer_point_at_an_object_of_the_bucket(standin: str, packaged: Packaged) -> None:
    locations = code_locations(packaged.template)
    assert set(locations) == set(code_locations(load_template()))
    functions = [
        value for value in load_template()["Resources"].values() if value["Type"] == "AWS::Serverless::Function"
    ]
    assert len(locations) == len(functions) + 1  # every function and the layer
    for uri in locations.values():
        assert re.fullmatch(rf"s3://{BUCKET}/{PREFIX}/[0-9a-f]{{32}}", uri), uri
    assert len(set(locations.values())) == len(locations)

    with zipfile.ZipFile(io.BytesIO(object_bytes(standin, locations["HealthFunction"]))) as archive:
        assert archive.read("app.py") == (PROJECT_ROOT / "functions/health/app.py").read_bytes()
    with zipfile.ZipFile(io.BytesIO(object_bytes(standin, locations["TasksCoreLayer"]))) as archive:
        names = set(archive.namelist())
    assert {"requirements.txt", "tasks_core/__init__.py", "tasks_core/repository.py"} <= names


def test_the_packaged_template_is_the_source_with_its_code_in_s3(packaged: Packaged) -> None:
    assert without_code_locations(packaged.template) == without_code_locations(load_template())
    assert packaged.template["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]


def test_the_packaged_template_is_uploaded_under_its_content_hash(standin: str, packaged: Packaged) -> None:
    digest = artifact_hash(packaged.template)
    key = f"{PREFIX}/templates/{digest}.yaml"
    assert object_bytes(standin, f"s3://{BUCKET}/{key}") == packaged.path.read_bytes()
    assert f"TemplateURL https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}" in packaged.report
    for uri in code_locations(packaged.template).values():
        assert uri in packaged.report


def test_cfn_lint_passes_on_the_packaged_template(packaged: Packaged) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(packaged.path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes_on_the_packaged_template(packaged: Packaged) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sam"), "validate", "--lint", "--template-file", str(packaged.path)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS": "1"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def checkout(standin: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A copy of the sources packaged into the bucket `checkout` under tasks-api/dev."""
    folder = tmp_path_factory.mktemp("checkout")
    template = copy_sources(folder / "sources")
    create_bucket(standin, "checkout")
    package(standin, template, "checkout", "tasks-api/dev", folder / "packaged.yaml")
    return template, dict(yaml_parse((folder / "packaged.yaml").read_text()))


def test_the_hash_leaves_out_the_bucket_and_prefix(standin: str, checkout: tuple[Path, dict[str, Any]]) -> None:
    template, first = checkout
    create_bucket(standin, "elsewhere")
    output = template.parent.parent / "elsewhere.yaml"
    package(standin, template, "elsewhere", "two/three", output)
    second = dict(yaml_parse(output.read_text()))
    assert artifact_hash(first) == artifact_hash(second)
    keys = {name: uri.rsplit("/", 1)[1] for name, uri in code_locations(first).items()}
    assert keys == {name: uri.rsplit("/", 1)[1] for name, uri in code_locations(second).items()}
    assert all(uri.startswith("s3://elsewhere/two/three/") for uri in code_locations(second).values())


def test_the_hash_and_the_key_of_changed_code_change(
    standin: str, checkout: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, first = checkout
    template = copy_sources(tmp_path / "sources")
    with (tmp_path / "sources/functions/health/app.py").open("a") as source:
        source.write("# changed\n")
    package(standin, template, "checkout", "tasks-api/dev", tmp_path / "changed.yaml")
    changed = dict(yaml_parse((tmp_path / "changed.yaml").read_text()))
    assert artifact_hash(changed) != artifact_hash(first)
    keys = {name: uri.rsplit("/", 1)[1] for name, uri in code_locations(first).items()}
    changed_keys = {name: uri.rsplit("/", 1)[1] for name, uri in code_locations(changed).items()}
    assert {name for name in keys if keys[name] != changed_keys[name]} == {"HealthFunction"}


def test_without_a_bucket_it_says_what_it_would_upload_and_uploads_nothing(
    checkout: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    template, reference = checkout
    output = tmp_path / "packaged.yaml"
    # No stand-in given: the tool starts its own, and AWS itself is unreachable (a dead endpoint).
    result = run_tool(
        None, "tools.package", "--template", str(template), "--prefix", "tasks-api/dev", "--output", str(output)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing was uploaded" in result.stdout
    assert not output.exists()
    assert f"content hash sha256:{artifact_hash(reference)}" in result.stdout
    for name, uri in code_locations(reference).items():
        line = next(line for line in result.stdout.splitlines() if uri.rsplit("/", 1)[1] in line)
        assert line.strip().startswith(f"s3://<bucket>/tasks-api/dev/{uri.rsplit('/', 1)[1]}")
        assert name in line
    assert f"s3://<bucket>/tasks-api/dev/templates/{artifact_hash(reference)}.yaml" in result.stdout


def python313() -> str:
    """Lambda's runtime, which `sam build` needs on PATH to build the layer (as the Makefile finds it)."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [shutil.which("python3.13"), *sorted(glob.glob(f"{pyenv}/versions/3.13.*/bin/python3.13"))]
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate
    pytest.fail("`make package` and this test need python3.13 (Lambda's runtime) for sam build")


def sam_build(build_dir: Path, python: str) -> Path:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "sam"),
            *("build", "--no-cached", "--template-file", "template.yaml", "--build-dir", str(build_dir)),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}"},
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return build_dir / "template.yaml"


def test_two_builds_of_the_same_commit_are_the_same_artifact(standin: str, tmp_path: Path) -> None:
    """What `make package` does, twice: a clean `sam build` (the layer's dependencies from PyPI), then the package."""
    python = python313()
    create_bucket(standin, "builds")
    templates = []
    for number in (1, 2):
        built = sam_build(tmp_path / f"build{number}", python)
        package(standin, built, "builds", f"build{number}", tmp_path / f"packaged{number}.yaml")
        templates.append(dict(yaml_parse((tmp_path / f"packaged{number}.yaml").read_text())))
    first, second = templates
    assert artifact_hash(first) == artifact_hash(second)
    assert [uri.rsplit("/", 1)[1] for uri in code_locations(first).values()] == [
        uri.rsplit("/", 1)[1] for uri in code_locations(second).values()
    ]
    # What sam build changed is only where the code is (and ids in resource Metadata).
    assert_same_template(without_code_locations(first), without_code_locations(load_template()))
    with zipfile.ZipFile(io.BytesIO(object_bytes(standin, code_locations(first)["TasksCoreLayer"]))) as archive:
        names = archive.namelist()
    assert "python/tasks_core/__init__.py" in names  # built: the layer's package and its dependencies
    assert any(name.startswith("python/psycopg/") for name in names)
    assert not [name for name in names if "__pycache__" in name]


def test_a_bucket_that_does_not_exist_is_an_error_that_says_so(standin: str, tmp_path: Path) -> None:
    output = tmp_path / "packaged.yaml"
    result = run_tool(
        standin, "tools.package", "--template", str(PROJECT_ROOT / "template.yaml"), "--bucket", "no-such-bucket",
        "--region", REGION, "--endpoint-url", standin, "--output", str(output),
    )  # fmt: skip
    assert result.returncode == 1
    assert "sam package failed" in result.stderr
    assert "NoSuchBucket" in result.stderr or "does not exist" in result.stderr, result.stderr
    assert not output.exists()
