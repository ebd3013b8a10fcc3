"""Importing a function's handler the way Lambda does: its CodeUri and the layer on the path."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from local.template import PROJECT_ROOT, Function

# What Lambda mounts at /opt/python: the layer's package folder (its dependencies are in the venv).
LAYER_PATHS = [PROJECT_ROOT / "layers" / "tasks_core"]

Handler = Callable[[dict[str, Any], Any], Any]


def add_layers_to_path(paths: list[Path] = LAYER_PATHS) -> None:
    """Make the layer importable, as /opt/python is in Lambda."""
    for path in paths:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def load_module(function: Function) -> ModuleType:
    """Import the function's module once per process (a cold start) and return it.

    Each function's module is named after its logical id, so six `app.py` files live side by
    side in one process, as the tests need.
    """
    add_layers_to_path(function.layers or LAYER_PATHS)
    name = f"lambda_function_{function.logical_id}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, function.module_path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {function.module_path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def load_handler(function: Function) -> Handler:
    """The function's handler, its module imported on first use."""
    handler: Handler = getattr(load_module(function), function.handler_name)
    return handler
