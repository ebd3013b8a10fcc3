"""The runtime's own lines for the developer: mounted routes, START/END/REPORT, reloads.

They go to one stream, through `emit`, so they interleave in order with the functions' own
output (which the workers write straight to the same terminal).
"""

from __future__ import annotations

import sys
from typing import TextIO

_stream: TextIO = sys.stdout


def use_stream(stream: TextIO) -> None:
    """Send the runtime's lines to `stream` (`invoke` keeps stdout for the response)."""
    global _stream  # noqa: PLW0603  # one process-wide destination, set once at start
    _stream = stream


def emit(line: str) -> None:
    """Write one line for the developer, at once."""
    _stream.write(line + "\n")
    _stream.flush()


def stream() -> TextIO:
    """Where the runtime's lines go (the workers write their output there too)."""
    return _stream
