"""Docs for API consumers: `/openapi.json` and Swagger UI at `/docs`, served offline.

Swagger UI's files come from the `swagger-ui-py` wheel (Swagger UI 5, which reads OpenAPI 3.1);
nothing is loaded from a CDN, and the validator badge (which calls out to swagger.io) is off.
"""

from __future__ import annotations

import asyncio
import importlib.util
import mimetypes
import sys
from pathlib import Path

from local.gateway.payload import HttpResponse
from local.output import emit
from local.template import PROJECT_ROOT


def _swagger_ui_static() -> Path:
    # Found without importing the package, whose __init__ pulls in Jinja2 (~85 ms at start).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("swagger-ui-py is not installed (requirements-dev.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


SWAGGER_UI_FILES = _swagger_ui_static()
# The files the page loads; nothing else of the package is served.
STATIC_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Task API - Swagger UI</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  </script>
</body>
</html>
"""


def _ok(content_type: str, body: bytes) -> HttpResponse:
    return HttpResponse(200, [("content-type", content_type)], body)


class ApiDocs:
    """Serves the OpenAPI document (built once, again after a code change) and Swagger UI."""

    def __init__(self, template: Path) -> None:
        self.template = template
        self._document: bytes | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """The code changed: build the document again on its next request."""
        self._document = None

    async def document(self) -> bytes:
        """The OpenAPI document as JSON, built in a subprocess (handlers stay out of the gateway)."""
        async with self._lock:
            if self._document is None:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "local.gateway.openapi",
                    str(self.template),
                    cwd=PROJECT_ROOT,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                out, err = await process.communicate()
                if process.returncode != 0:
                    emit(f"Building /openapi.json failed:\n{err.decode(errors='replace')}")
                    raise RuntimeError("openapi build failed")
                self._document = out
            return self._document

    async def respond(self, method: str, path: str) -> HttpResponse | None:
        """The response for a docs path, or None when the path is not one."""
        if method not in ("GET", "HEAD"):
            return None
        if path == "/openapi.json":
            return _ok("application/json", await self.document())
        if path in ("/docs", "/docs/"):
            return _ok("text/html; charset=utf-8", PAGE.encode())
        name = path.removeprefix("/docs/")
        if name in STATIC_FILES:
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return _ok(content_type, (SWAGGER_UI_FILES / name).read_bytes())
        return None
