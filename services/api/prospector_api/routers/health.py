"""Liveness, readiness (Redis and the catalog reachable) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ..deps import CatalogDep, MetricsDep, StoreDep
from ..sessions import PlayError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    redis: bool
    catalog: bool
    reasons: list[str]


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}},
            summary="Redis and the catalog are reachable")
def readyz(store: StoreDep, catalog: CatalogDep) -> JSONResponse:
    reasons = []
    redis_ok = True
    try:
        store.ping()
    except PlayError as exc:
        redis_ok = False
        reasons.append(str(exc))
    catalog_ok = catalog.ping()
    if not catalog_ok:
        reasons.append(f"the catalog database ({catalog.dialect}) does not answer")
    ready = redis_ok and catalog_ok
    body = Readiness(status="ready" if ready else "unavailable", redis=redis_ok, catalog=catalog_ok, reasons=reasons)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
def prometheus(metrics: MetricsDep, store: StoreDep) -> Response:
    try:
        metrics.active_sessions.set(store.active_count())
    except PlayError:
        pass  # Redis down: the gauge keeps its last value; /readyz tells why
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
