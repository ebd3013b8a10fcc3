"""GET /health, and what every answer carries.

Through the template's routes and the real handlers, on PostgreSQL; tests/e2e runs the same
classes over HTTP through the local gateway.
"""

from __future__ import annotations

from tests.support.api import InProcessApi
from tests.support.contract import assert_error


def test_health(api: InProcessApi) -> None:
    response = api.get("/health")
    assert response.status == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_request_id_is_the_api_gateway_request_id(api: InProcessApi, user_id: str) -> None:
    function = api.router.match("GET", f"/users/{user_id}/tasks/1")
    assert function is not None
    from local.gateway.payload import build_event, to_http_response

    event = build_event(method="GET", raw_path=f"/users/{user_id}/tasks/1", match=function, request_id="req-abc-123")
    response = to_http_response(api.invoke(function.route.function, event))
    assert assert_error(response, 404, "not_found")["request_id"] == "req-abc-123"
