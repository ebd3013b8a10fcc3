"""The API's OpenAPI 3.1 document, merged from the Powertools resolvers of every function.

`python -m local.openapi` writes it to openapi.json at the project root (committed; a test
fails when it drifts from the code). Powertools adds a 422 response to every route when
validation is on; this API answers validation errors with 400 (API.md), so the 422 entries and
their schemas are dropped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

from tasks_core.models import TASK_ID_MAX

from .handlers import load_module
from .template import PROJECT_ROOT, load_functions

OPENAPI_PATH = PROJECT_ROOT / "openapi.json"
TITLE = "Task API"
VERSION = "1.0.0"
DESCRIPTION = (
    "User-scoped tasks. Every operation is scoped to the user in the path: another user's task "
    "is a 404. Errors share one JSON shape (ErrorBody). The contract is API.md."
)
_POWERTOOLS_ONLY_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def build_openapi() -> dict[str, Any]:
    """The merged document of every function in template.yaml."""
    merge = OpenAPIMerge(
        title=TITLE, version=VERSION, description=DESCRIPTION, openapi_version="3.1.0", on_conflict="error"
    )
    for function in load_functions().values():
        if not function.routes:
            continue  # not behind the API (the migrations custom resource)
        resolver = load_module(function).app
        merge.add_schema(resolver.get_openapi_schema().model_dump(mode="json", by_alias=True, exclude_none=True))
    document = merge.get_openapi_schema()
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", []):
                _integer_bounds(parameter["schema"])
                if parameter["name"] == "task_id":
                    # Powertools' OpenAPI model holds bounds as floats; 2**63 - 1 is not one.
                    parameter["schema"]["maximum"] = TASK_ID_MAX
    schemas = document.get("components", {}).get("schemas", {})
    for name in _POWERTOOLS_ONLY_SCHEMAS:
        schemas.pop(name, None)
    return document


def _integer_bounds(schema: dict[str, Any]) -> None:
    """Bounds of an integer schema as integers (1, not 1.0)."""
    if schema.get("type") != "integer":
        return
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "default"):
        value = schema.get(key)
        if isinstance(value, float) and value.is_integer():
            schema[key] = int(value)


def render(document: dict[str, Any]) -> str:
    """The document as committed: indented, keys in a stable order."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(path: Path = OPENAPI_PATH) -> int:
    """Write openapi.json."""
    path.write_text(render(build_openapi()), encoding="utf-8")
    sys.stdout.write(f"wrote {path.relative_to(PROJECT_ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
