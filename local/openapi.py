"""The API's OpenAPI 3.1 document: the committed `openapi.json` beside the template, or the
merge of every function's Powertools resolver (`app.get_openapi_schema()`).

`python -m local.openapi [TEMPLATE]` prints it; the gateway runs that in a subprocess, so the
handlers' modules are never imported into the gateway itself.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

from .handlers import load_module
from .template import PROJECT_ROOT, TEMPLATE_PATH, load_functions

TITLE = "Task API"
# The name of the resolver in each function's module (`app = TaskResolver()`).
RESOLVER_ATTRIBUTE = "app"


def _version() -> str:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(project["project"]["version"])


def build_openapi(template: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The merged document of all functions of the template."""
    committed = template.parent / "openapi.json"
    if committed.is_file():
        document: dict[str, Any] = json.loads(committed.read_text(encoding="utf-8"))
        return document
    merge = OpenAPIMerge(title=TITLE, version=_version(), on_conflict="error")
    for function in load_functions(template).values():
        resolver = getattr(load_module(function), RESOLVER_ATTRIBUTE, None)
        if resolver is not None and hasattr(resolver, "get_openapi_schema"):
            merge.add_schema(resolver.get_openapi_schema())
    generated: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    return generated


def main(argv: list[str]) -> None:
    """Print the document of the template given (template.yaml by default) as JSON."""
    template = Path(argv[1]).resolve() if len(argv) > 1 else TEMPLATE_PATH
    sys.stdout.write(json.dumps(build_openapi(template), indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv)
