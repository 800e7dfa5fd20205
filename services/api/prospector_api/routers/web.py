"""`/` when the web page (services/web) has not been built: a short note instead."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["web"])

NOTE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Asteroid Belt Prospector API</title></head>
<body><h1>Asteroid Belt Prospector API</h1>
<p>The web page is not built yet (services/web/dist). The API is here:
<a href="/docs">/docs</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>),
<a href="/api/runs">/api/runs</a>, <a href="/api/meta">/api/meta</a>.</p></body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    return HTMLResponse(NOTE)
