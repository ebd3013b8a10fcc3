"""A local stand-in for AWS: moto's server in a process of its own.

`make package` without a bucket packages against it to say what it would upload; the tests
package and deploy against it. A process of its own keeps its state apart from moto's in-process
mocks that other tests of the same worker start and reset.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

_BANNER = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")

# Credentials the stand-in accepts; no real account is ever reached with them.
STANDIN_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "standin",
    "AWS_SECRET_ACCESS_KEY": "standin",
}
# Settings that would send a request elsewhere or look up a real profile.
_REAL_AWS_SETTINGS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE")


def standin_environment(url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (os.environ by default) with every AWS call of an SDK or CLI sent to the stand-in."""
    environment = {
        key: value
        for key, value in (os.environ if base is None else base).items()
        if key not in _REAL_AWS_SETTINGS and not key.startswith("AWS_ENDPOINT_URL")
    }
    return {**environment, **STANDIN_CREDENTIALS, "AWS_ENDPOINT_URL": url}


@contextmanager
def aws_standin(start_timeout_s: float = 60.0) -> Iterator[str]:
    """Run moto's server on a free local port until the block ends; yield its URL."""
    with tempfile.TemporaryDirectory(prefix="aws-standin-") as folder:
        log_path = Path(folder) / "server.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            yield _wait_for_banner(process, log_path, start_timeout_s)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_banner(process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> str:
    # The server prints its address once it listens (port 0 takes a free port).
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _BANNER.search(log_path.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"moto's server did not start:\n{log_path.read_text(errors='replace')}")
