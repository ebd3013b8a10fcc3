"""Swagger UI at /docs in a real headless Chromium: offline, lists the operations, and
"Try it out" on create answers 201.

Debian's `chromium` is installed with apt-get when it is missing (the machines run as root).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from local import debian_packages
from tests.e2e.server import LocalServer
from tests.support.contract import API_ROUTES

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system's Chromium, installed from Debian's packages when missing."""
    try:
        return debian_packages.ensure_installed("chromium")
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium with an empty profile, driven by Playwright."""
    executable = chromium_path()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        assert context.browser is not None
        yield context.browser
        context.close()


def test_swagger_ui_lists_operations_and_try_it_out_creates(browser: Browser, product_server: LocalServer) -> None:
    context = browser.contexts[0]
    page = context.new_page()
    elsewhere: list[str] = []

    def only_the_local_server(route: Route) -> None:
        # Offline: any request to another host (a CDN, swagger.io's validator) fails the test.
        if urlsplit(route.request.url).netloc == f"{product_server.host}:{product_server.port}":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_local_server)
    page.goto(f"{product_server.base_url}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    operations = {
        (summary.locator(".opblock-summary-method").inner_text(), summary.locator(".opblock-summary-path").inner_text())
        for summary in page.locator(".opblock-summary").all()
    }
    assert {(method, path.replace("\u200b", "")) for method, path in operations} == API_ROUTES

    create = page.locator(".opblock-post").filter(has_text="/users/{user_id}/tasks").first
    create.locator(".opblock-summary").click()
    create.locator(".try-out__btn").click()
    create.locator('input[placeholder="user_id"]').fill("swagger-user")
    create.locator("textarea.body-param__text").fill('{"title": "from Swagger UI"}')
    create.locator(".execute").click()
    status = create.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip().startswith("201")
    assert "from Swagger UI" in create.locator(".live-responses-table .microlight").first.inner_text()
    assert elsewhere == []
    page.close()
