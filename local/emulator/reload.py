"""Hot reload: watch the functions' code and layers; retire the workers a change affects.

A change under a function's code folder affects that function; any other watched change
(a layer) affects every function. Workers in flight finish their invocation on the old code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

from watchfiles import awatch

from local.template import Function

# watchfiles groups the events of one save; a short step keeps save-to-served well under 1 s.
DEBOUNCE_MS = 200
STEP_MS = 20


def watched_paths(functions: Mapping[str, Function]) -> list[Path]:
    """The code folders and layers of the functions."""
    paths = {function.code_uri for function in functions.values()}
    paths |= {layer for function in functions.values() for layer in function.layers}
    return sorted(path for path in paths if path.exists())


def affected(functions: Mapping[str, Function], changed: Iterable[Path]) -> set[str]:
    """The functions whose code or layers hold any of the changed paths."""
    names: set[str] = set()
    for path in changed:
        owners = {name for name, function in functions.items() if path.is_relative_to(function.code_uri)}
        names |= owners or set(functions)
    return names


async def watch(
    functions: Mapping[str, Function],
    on_change: Callable[[set[str], list[Path]], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Call `on_change(function names, changed paths)` after each change, until `stop` is set."""
    paths = watched_paths(functions)
    if not paths:
        return
    async for changes in awatch(*paths, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=stop):
        changed = sorted({Path(path) for _, path in changes})
        await on_change(affected(functions, changed), changed)
