"""The API's OpenAPI 3.1 document, written by Powertools from the routes every function declares.

`python -m local.gateway.openapi --write` writes it to openapi.json at the project root (committed; a
test fails when it drifts from the code). `python -m local.gateway.openapi [TEMPLATE]` prints it: the
local runtime runs that in a subprocess, so handler modules are never imported into the gateway.

Each function's TaskResolver holds its routes as Powertools' resolver would take them, with the
markers of tasks_core.params (the functions do not import Powertools' event handler, for their
cold start): `powertools_resolver` registers the same routes, markers translated argument for
argument, on a Powertools resolver, whose OpenAPI generation does the rest. It never answers a
request.

Powertools adds a 422 response (HTTPValidationError) to every route when validation is on; this
API answers validation errors with 400 (API.md), so those entries and their schemas are dropped.
A route's own 422 (create: idempotency_key_reused, an ErrorBody) stays.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from aws_lambda_powertools.event_handler.openapi import params as powertools_params
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

from local.emulator.loader import load_module
from local.template import PROJECT_ROOT, TEMPLATE_PATH, load_functions
from tasks_core import params
from tasks_core.models import TASK_ID_MAX
from tasks_core.request_validation import Endpoint
from tasks_core.resolver import TaskResolver

OPENAPI_PATH = PROJECT_ROOT / "openapi.json"
TITLE = "Task API"
DESCRIPTION = (
    "User-scoped tasks. Every operation is scoped to the user in the path: another user's task "
    "is a 404. Errors share one JSON shape (ErrorBody). The contract is docs/API.md."
)
# The name of the resolver in each function's module (`app = TaskResolver()`).
RESOLVER_ATTRIBUTE = "app"
_POWERTOOLS_ONLY_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _version() -> str:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(project["project"]["version"])


def build_openapi(template: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The merged document of every function of the template that serves routes."""
    merge = OpenAPIMerge(
        title=TITLE, version=_version(), description=DESCRIPTION, openapi_version="3.1.0", on_conflict="error"
    )
    for function in load_functions(template).values():
        if not function.routes:
            continue  # not behind the API (the migrations custom resource)
        resolver = getattr(load_module(function), RESOLVER_ATTRIBUTE, None)
        if isinstance(resolver, TaskResolver):
            schema = powertools_resolver(resolver).get_openapi_schema()
            merge.add_schema(schema.model_dump(mode="json", by_alias=True, exclude_none=True))
    document = merge.get_openapi_schema()
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                del responses["422"]
            for parameter in operation.get("parameters", []):
                _integer_bounds(parameter["schema"])
                if parameter["name"] == "task_id":
                    # Powertools' OpenAPI model holds bounds as floats; 2**63 - 1 is not one.
                    parameter["schema"]["maximum"] = TASK_ID_MAX
    schemas = document.get("components", {}).get("schemas", {})
    for name in _POWERTOOLS_ONLY_SCHEMAS:
        schemas.pop(name, None)
    return document


def powertools_resolver(resolver: TaskResolver) -> APIGatewayHttpResolver:
    """A Powertools resolver with the routes of `resolver`, for its OpenAPI generation."""
    documented = APIGatewayHttpResolver(enable_validation=False)
    for route in resolver.routes:
        documented.route(route.rule, route.method, **route.openapi)(_with_powertools_markers(route.endpoint))
    return documented


_MARKERS: dict[type[params.Param], Any] = {
    params.Path: powertools_params.Path,
    params.Header: powertools_params.Header,
    params.Query: powertools_params.Query,
    params.Body: powertools_params.Body,
}


def _with_powertools_markers(endpoint: Endpoint) -> Endpoint:
    """`endpoint`'s signature as Powertools reads it: its markers, and its Response type."""
    hints = typing.get_type_hints(endpoint, include_extras=True)
    parameters = []
    for parameter in inspect.signature(endpoint).parameters.values():
        annotation = hints[parameter.name]
        metadata = tuple(
            _MARKERS[type(item)](**item.openapi) if isinstance(item, params.Param) else item
            for item in annotation.__metadata__
        )
        parameters.append(parameter.replace(annotation=Annotated[(annotation.__origin__, *metadata)]))

    @functools.wraps(endpoint)
    def documented(**arguments: Any) -> Any:
        raise RuntimeError("a documentation stand-in; TaskResolver answers requests")

    documented.__signature__ = inspect.Signature(parameters, return_annotation=PowertoolsResponse[str])  # type: ignore[attr-defined]
    return documented


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


def main(argv: list[str]) -> int:
    """`--write`: write openapi.json; else print the document of TEMPLATE (template.yaml)."""
    if argv[1:] == ["--write"]:
        OPENAPI_PATH.write_text(render(build_openapi()), encoding="utf-8")
        sys.stdout.write(f"wrote {OPENAPI_PATH.relative_to(PROJECT_ROOT)}\n")
        return 0
    template = Path(argv[1]).resolve() if len(argv) > 1 else TEMPLATE_PATH
    sys.stdout.write(render(build_openapi(template)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
