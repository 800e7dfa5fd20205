"""The FastAPI app: routers, error mapping, middleware, and the web page at /.

    app = create_app()                               # resources built at startup, closed at shutdown
    app = create_app(resources=build_resources(...)) # shared with the gRPC server (prospector api)

Errors: request validation (bad IDs, an action outside 0..68, wrong types, NaN
or infinities) is 422 in FastAPI's own shape; every other error is {"detail":
"..."}: 404 unknown, 410 expired or gone, 413 body too large, 429 a cap or a
client's rate (with Retry-After), 503 Redis or the catalog down (play and events
need Redis; the catalog endpoints do not), 409 a session stepped by too many
callers at once.

Closed by default: creating a session needs a JSON body (so a browser preflights
a cross-origin create), and no other origin may call the API from a browser
unless PROSPECTOR_API_CORS_ORIGINS lists it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prospector_common.ids import InvalidId
from prospector_common.settings import Settings, get_settings
from prospector_common.replay import ReplayFormatError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from . import sessions
from .limits import BodySizeLimit
from .metrics import ApiMetrics, MetricsMiddleware
from .resources import Resources, build_resources
from .schemas import UnknownId
from .routers import events, health, meta, play, progress, replays, runs, web
from .settings import ApiSettings, get_api_settings

log = logging.getLogger("prospector.api")

def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _validation_error(loc: list[str], message: str) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status_code=422)


def _finite(value: Any) -> Any:
    """value with every NaN or infinity spelled as JSON readers spell it in text ("NaN",
    "Infinity", "-Infinity"): a validation error echoes the input, and JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own shape; NaN, Infinity or -Infinity in a body (Python's JSON reader takes
        # them) is refused like any other wrong number, not a 500 from echoing it back
        errors = []
        for error in exc.errors():
            bad = error.get("input")
            if isinstance(bad, float) and not math.isfinite(bad):
                error = {**error, "msg": f"{error.get('msg', 'invalid')}: {_finite(bad)} is not a JSON number"}
            errors.append(error)
        return JSONResponse({"detail": _finite(jsonable_encoder(errors))}, status_code=422)

    @app.exception_handler(sessions.InvalidAction)
    async def _invalid_action(_request: Request, exc: sessions.InvalidAction) -> JSONResponse:
        return _validation_error(["body", "action"], str(exc))

    @app.exception_handler(sessions.PlayError)
    async def _play_error(_request: Request, exc: sessions.PlayError) -> JSONResponse:
        return play.play_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:  # Allow: the methods of every route on this path, not just one
            allowed = sorted({m for route in app.router.routes if isinstance(route, Route)
                              and route.matches(request.scope)[0] != Match.NONE for m in route.methods or ()})
            return JSONResponse({"detail": exc.detail}, status_code=405, headers={"Allow": ", ".join(allowed)})
        return await http_exception_handler(request, exc)

    @app.exception_handler(UnknownId)
    async def _unknown_id(_request: Request, exc: UnknownId) -> JSONResponse:
        return _error(404, f"no such resource: {exc}")

    @app.exception_handler(InvalidId)
    async def _invalid_id(_request: Request, exc: InvalidId) -> JSONResponse:
        return _validation_error(["path"], str(exc))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _catalog_down(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("catalog error: %s", exc)
        return _error(503, f"the catalog database is unavailable: {type(exc).__name__}")

    @app.exception_handler(ReplayFormatError)
    async def _bad_replay(_request: Request, exc: ReplayFormatError) -> JSONResponse:
        log.error("unreadable replay: %s", exc)
        return _error(500, f"the replay file is unreadable: {exc}")


def create_app(
    settings: Settings | None = None,
    api_settings: ApiSettings | None = None,
    *,
    resources: Resources | None = None,
) -> FastAPI:
    """The API app. Without `resources`, it builds its own at startup and closes them at shutdown."""
    if resources is not None:
        settings, api_settings = resources.settings, resources.api
    settings = settings or get_settings()
    api_settings = api_settings or get_api_settings()
    metrics = resources.metrics if resources is not None else ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = resources is None
        app.state.resources = resources if resources is not None else build_resources(
            settings, api_settings, metrics)
        try:
            yield
        finally:
            if owned:
                await app.state.resources.aclose()

    app = FastAPI(
        title="Asteroid Belt Prospector API",
        version="1.0.0",
        summary="Runs, windows and replays of training; live events; human and bot play.",
        lifespan=lifespan,
    )
    if resources is not None:
        app.state.resources = resources  # also usable without running the lifespan
    _install_error_handlers(app)
    for module in (runs, replays, play, events, meta, health, progress):
        app.include_router(module.router)

    web.install(app, api_settings.web_dist)  # last: the page never shadows an API route

    app.add_middleware(play.StepFastPath)  # innermost: behind the body limit and the metrics
    app.add_middleware(BodySizeLimit, max_bytes=api_settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if api_settings.cors_origins:  # outermost: preflights are answered before anything else runs
        app.add_middleware(CORSMiddleware, allow_origins=list(api_settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Content-Type", "Authorization"],
                           max_age=600)
    return app
