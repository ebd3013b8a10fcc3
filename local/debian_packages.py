"""Programs that tests and benchmarks install from Debian's packages when they are missing
(pgbouncer, wrk, chromium): the machines run Debian as root, and PyPI does not ship them.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def ensure_installed(program: str, *, package: str | None = None, also_in: str | None = None) -> str:
    """The path of `program`, installed with apt-get first if it is not there.

    `package` is the Debian package (default: the program's name); `also_in` a folder to look in
    besides PATH (pgbouncer installs into /usr/sbin). RuntimeError when it cannot be installed.
    """

    def find() -> str | None:
        return shutil.which(program) or (shutil.which(program, path=also_in) if also_in else None)

    found = find()
    if found:
        return found
    name = package or program
    if os.geteuid() != 0:
        raise RuntimeError(f"{program} is not installed and installing it needs root (apt-get install {name})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", name],
    ):
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, timeout=900)  # noqa: S603
    found = find()
    if not found:
        raise RuntimeError(f"{program} was installed but is not on PATH")
    return found
