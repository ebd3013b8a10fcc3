"""The functions' execution environment in this test process: pointed at another database, or
invoked with a shorter time limit, as a function with a shorter timeout would be."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from local.emulator.context import LambdaContext
from local.emulator.loader import load_handler
from local.template import Function
from tasks_core import environment
from tasks_core.settings import get_settings
from tests.support.api import InProcessApi


def _new_environment() -> None:
    """Forget the environment's settings and connection, as a new execution environment would."""
    environment.forget()
    environment.cursor_key.cache_clear()
    get_settings.cache_clear()


@contextmanager
def functions_use_database(url: str) -> Iterator[None]:
    """For the block, the functions invoked in this process connect to `url`; afterwards they
    are back on the session's database (each switch is a new execution environment)."""
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DATABASE_URL", url)
            _new_environment()
            yield
    finally:
        _new_environment()


class TimedApi(InProcessApi):
    """The in-process API whose invocations each have `timeout_s` in all (Lambda's context)."""

    def __init__(self, functions: Mapping[str, Function], timeout_s: float) -> None:
        super().__init__(functions)
        self.timeout_s = timeout_s
        self.last_context: LambdaContext | None = None

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Call one function's handler with a context that has `timeout_s` left."""
        function = self.functions[logical_id]
        context = self.last_context = LambdaContext(function.logical_id, function.memory_mb, self.timeout_s)
        return load_handler(function)(event, context)

    def remaining_ms(self) -> int:
        """What the last invocation had left when it answered (or now, if it has)."""
        assert self.last_context is not None
        return self.last_context.get_remaining_time_in_millis()
