"""Runs and their window metrics, from the catalog (no Redis needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from prospector_common.catalog import Catalog, RunRecord

from ..deps import CatalogDep
from ..schemas import ErrorOut, PageLimit, RunIdPath, RunList, RunOut, WindowOut, WindowPage

router = APIRouter(prefix="/api/runs", tags=["runs"])

_ERRORS = {404: {"model": ErrorOut, "description": "unknown run"},
           503: {"model": ErrorOut, "description": "the catalog database is down"}}


def run_out(catalog: Catalog, run: RunRecord) -> RunOut:
    latest = catalog.latest_window(run.run_id)
    return RunOut(**run.model_dump(), latest_window=None if latest is None else WindowOut(**latest.model_dump()))


def require_run(catalog: Catalog, run_id: str) -> RunRecord:
    run = catalog.get_run(run_id)
    if run is None:
        raise HTTPException(404, f"run {run_id} is not in the catalog")
    return run


@router.get("", response_model=RunList, responses={503: _ERRORS[503]}, summary="Runs, newest first")
def list_runs(catalog: CatalogDep, limit: PageLimit = 100) -> RunList:
    return RunList(items=[run_out(catalog, run) for run in catalog.list_runs(limit=limit)])


@router.get("/{run_id}", response_model=RunOut, responses=_ERRORS,
            summary="A run: metadata, config, status, latest window, W&B URL")
def get_run(run_id: RunIdPath, catalog: CatalogDep) -> RunOut:
    return run_out(catalog, require_run(catalog, run_id))


@router.get("/{run_id}/metrics/windows", response_model=WindowPage, responses=_ERRORS,
            summary="A run's windows with their metrics, in order")
def list_windows(
    run_id: RunIdPath,
    catalog: CatalogDep,
    limit: PageLimit = 100,
    after: Annotated[int | None, Query(ge=0, le=999_999, description="only windows after this id")] = None,
) -> WindowPage:
    require_run(catalog, run_id)
    page = catalog.page_windows(run_id, after=after, limit=limit)
    return WindowPage(run_id=run_id, items=[WindowOut(**row.model_dump()) for row in page.items],
                      next_after=page.next_after)
