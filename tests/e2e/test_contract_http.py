"""The whole contract of API.md again, over real HTTP through the local gateway.

The classes are the handler tests of tests/handlers themselves; tests/e2e/conftest.py gives them
an `api` that is an HTTP client of `python -m local serve`, so the contract is written once.
"""

from __future__ import annotations

from tests.e2e.server import HttpApi
from tests.handlers.test_conditional import TestETag, TestIfMatch, TestIfNoneMatch
from tests.handlers.test_create import TestCreate
from tests.handlers.test_delete import TestDelete
from tests.handlers.test_get import TestGet
from tests.handlers.test_health import test_health
from tests.handlers.test_idempotency import TestKeySyntax, TestReplay, TestReuse
from tests.handlers.test_list import TestList
from tests.handlers.test_order_of_checks import TestOrderOfChecks
from tests.handlers.test_path_parameters import TestPathParameters
from tests.handlers.test_update import TestUpdate, update_method
from tests.support.contract import assert_error

__all__ = [
    "TestCreate",
    "TestDelete",
    "TestETag",
    "TestGet",
    "TestIfMatch",
    "TestIfNoneMatch",
    "TestKeySyntax",
    "TestList",
    "TestOrderOfChecks",
    "TestPathParameters",
    "TestReplay",
    "TestReuse",
    "TestUpdate",
    "test_health",
    "update_method",
]


def test_request_id_is_the_api_gateway_request_id(api: HttpApi, user_id: str) -> None:
    response = api.get(f"/users/{user_id}/tasks/1")
    body = assert_error(response, 404, "not_found")
    assert body["request_id"] == response.header("apigw-requestid")


def test_unknown_route_and_method_are_api_gateways_404(api: HttpApi, user_id: str) -> None:
    for method, path in (("GET", "/nope"), ("DELETE", f"/users/{user_id}/tasks"), ("POST", "/health")):
        response = api.request(method, path)
        assert response.status == 404
        assert response.json() == {"message": "Not Found"}
        assert response.header("content-type") == "application/json"
