"""The API's own description on each plane: `GET /api/openapi.json` (OpenAPI 3.1, generated from the route
declarations: gateway/openapi.py) and `GET /api/docs`, a Swagger UI page whose assets Vigil serves itself from
the pinned `swagger-ui-py` package (no CDN): the page works where the gateway is reachable and nothing else is."""

from __future__ import annotations

import functools
import importlib.resources

import orjson
from aiohttp import web

from gateway import openapi, routes
from gateway.routing import Plane, Routes
from gateway.schemas.base import Path
from gateway.state import PLANE_KEY
from vigil.runtime.errors import NotFound

ASSETS = importlib.resources.files("swagger_ui") / "static"
CACHE = "public, max-age=86400"
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
"""
# In a file of its own rather than inline, so a Content-Security-Policy without 'unsafe-inline' allows the page.
INIT = b"""window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""
MEDIA = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript", "favicon-32x32.png": "image/png",
         "init.js": "text/javascript"}


class Asset(Path):
    name: str


@functools.cache
def document(plane: Plane) -> bytes:
    """Generated once per plane, from the routes the plane serves."""
    return orjson.dumps(openapi.document(plane, routes.collect(plane)))


async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(body=document(request.app[PLANE_KEY]), content_type="application/json")  # type: ignore[arg-type]


async def docs_page(request: web.Request) -> web.Response:
    plane = request.app[PLANE_KEY]
    return web.Response(text=PAGE.format(title=openapi.TITLES[plane]), content_type="text/html")  # type: ignore[index]


async def docs_asset(request: web.Request, path: Asset) -> web.Response:
    media = MEDIA.get(path.name)
    if media is None:
        raise NotFound(f"no asset {path.name}")
    body = INIT if path.name == "init.js" else (ASSETS / path.name).read_bytes()
    return web.Response(body=body, content_type=media, headers={"Cache-Control": CACHE})


tenant_routes = Routes("tenant", tags=("docs",), auth="public")
control_routes = Routes("control", tags=("docs",), auth="public")
for plane_routes in (tenant_routes, control_routes):
    plane_routes.get("/api/openapi.json", summary="This plane's OpenAPI 3.1 document", rate=None,
                     produces=("application/json",))(openapi_document)
    plane_routes.get("/api/docs", summary="The API reference (Swagger UI)", rate=None,
                     produces=("text/html",))(docs_page)
    plane_routes.get("/api/docs/{name}", summary="An asset of the API reference page", rate=None, path=Asset,
                     produces=("text/css", "text/javascript", "image/png"))(docs_asset)
