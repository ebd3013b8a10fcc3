"""openapi.json is generated from the functions' routes and models, and kept in step with them."""

from __future__ import annotations

import json

from local.gateway.openapi import OPENAPI_PATH, build_openapi, render
from local.template import load_functions


def test_committed_openapi_matches_the_code() -> None:
    expected = render(build_openapi())
    assert OPENAPI_PATH.read_text(encoding="utf-8") == expected, (
        "openapi.json is out of date: run `.venv/bin/python -m local.gateway.openapi --write` and commit it"
    )


def test_every_route_of_the_template_is_documented() -> None:
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    routes = {(route.method, route.path) for fn in load_functions().values() for route in fn.routes}
    assert documented == routes


def test_real_status_codes_are_listed_and_powertools_422_is_not() -> None:
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    paths = document["paths"]
    create = paths["/users/{user_id}/tasks"]["post"]["responses"]
    assert {"201", "400", "413", "503"} <= set(create)
    assert "Location" in create["201"]["headers"]
    assert {"200", "400", "404", "503"} <= set(paths["/users/{user_id}/tasks/{task_id}"]["get"]["responses"])
    assert "Link" in paths["/users/{user_id}/tasks"]["get"]["responses"]["200"]["headers"]
    assert "Retry-After" in paths["/health"]["get"]["responses"]["503"]["headers"]
    # Validation errors are 400 (API.md); the one 422 is create's idempotency_key_reused.
    assert create["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert ("422" in operation["responses"]) == ((method, path) == ("post", "/users/{user_id}/tasks"))
            assert "500" in operation["responses"]
    assert document["openapi"].startswith("3.1")
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_error_schema_is_the_contracts() -> None:
    schema = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))["components"]["schemas"]["ErrorBody"]
    assert set(schema["properties"]) == {"detail", "code", "errors", "request_id"}
    assert set(schema["required"]) == {"detail", "code", "request_id"}
