"""The layer's size as `sam build` makes it: unzipped, zipped, and what takes the room."""

from __future__ import annotations

import glob
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

from local.template import PROJECT_ROOT

LAYER_ID = "TasksCoreLayer"
LAYER_REQUIREMENTS = PROJECT_ROOT / "layers" / "tasks_core" / "requirements.txt"
MIB = 1024 * 1024


def find_python313() -> str | None:
    """A python3.13 that runs: on PATH, else in pyenv's versions (what `sam build` needs)."""
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = [shutil.which("python3.13"), *sorted(glob.glob(f"{root}/versions/3.13*/bin/python3.13"))]
    for candidate in candidates:
        if not candidate:
            continue
        if subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0:  # noqa: S603
            return candidate
    return None


def _sizes(folder: Path) -> dict[str, Any]:
    """Unzipped bytes, zipped bytes (deflate, as a deployment package is), the largest top entries."""
    top: Counter[str] = Counter()
    total = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                size = path.stat().st_size
                total += size
                relative = path.relative_to(folder)
                top[relative.parts[1] if len(relative.parts) > 2 else relative.parts[0]] += size
                archive.write(path, relative.as_posix())
    return {
        "unzipped_mib": total / MIB,
        "zipped_mib": len(buffer.getvalue()) / MIB,
        "largest_mib": {name: size / MIB for name, size in top.most_common(8)},
    }


def built_layer() -> dict[str, Any]:
    """Build the layer with `sam build` in a temporary folder and measure it."""
    python = find_python313()
    if python is None:
        raise RuntimeError("sam build needs python3.13 on PATH or in $PYENV_ROOT/versions")
    sam = Path(sys.executable).with_name("sam")
    with tempfile.TemporaryDirectory(prefix="bench-sam-") as folder:
        environment = {**os.environ, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        environment["SAM_CLI_TELEMETRY"] = "0"
        subprocess.run(  # noqa: S603
            [str(sam), "build", LAYER_ID, "--build-dir", f"{folder}/build", "--template", "template.yaml"],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            check=True,
        )
        return {"method": "sam build", **_sizes(Path(folder) / "build" / LAYER_ID)}


def _requirement_names(text: str) -> list[str]:
    names = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0])
    return names


def estimated_layer() -> dict[str, Any]:
    """The installed size of the layer's requirements and their dependencies (no build; the test's way)."""
    seen: set[str] = set()
    pending = _requirement_names(LAYER_REQUIREMENTS.read_text())
    total = 0
    top: Counter[str] = Counter()
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                size = path.stat().st_size
                total += size
                top[file.parts[0]] += size
        for requirement in dist.requires or []:
            if "extra ==" not in requirement or "tracer" in requirement:
                pending.extend(_requirement_names(requirement.split(";")[0]))
    return {
        "method": "installed packages (estimate)",
        "unzipped_mib": total / MIB,
        "zipped_mib": None,
        "largest_mib": {name: size / MIB for name, size in top.most_common(8)},
    }
