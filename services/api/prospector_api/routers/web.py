"""The web page (services/web) at `/`: its built files, or a short note when it is not built.

The page is a single-page app with three routes of its own (`/`, `/play`,
`/analytics`); each gets index.html, and the page's router picks the view.
Nothing under /api/ or /ws/ is ever answered by the page: an unknown API path
stays a JSON 404 whatever the method, so API clients never receive HTML.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

router = APIRouter(tags=["web"])

# The page's own routes (besides `/`), each answered with index.html.
PAGE_ROUTES = frozenset({"play", "analytics"})
API_PREFIXES = ("api", "ws")

NOTE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Asteroid Belt Prospector API</title></head>
<body><h1>Asteroid Belt Prospector API</h1>
<p>The web page is not built yet (services/web/dist: <code>make web</code>). The API is here:
<a href="/docs">/docs</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>),
<a href="/api/runs">/api/runs</a>, <a href="/api/meta">/api/meta</a>.</p></body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    return HTMLResponse(NOTE)


class WebPage(StaticFiles):
    """The built page's files, plus index.html for the page's routes; never anything under /api or /ws."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        first = path.replace("\\", "/").split("/", 1)[0]
        if first in API_PREFIXES:
            raise HTTPException(status_code=404)
        if path.strip("/") in PAGE_ROUTES:
            path = "index.html"
        return await super().get_response(path, scope)


def install(app: FastAPI, dist: Path) -> None:
    """Serve the built page from `dist` at / (after every API route), or the note when it is not built."""
    if (dist / "index.html").is_file():
        app.mount("/", WebPage(directory=dist, html=True), name="web")
    else:
        app.include_router(router)
