"""FastAPI dependencies: the resources a handler needs, injected from app.state (never globals).

They are coroutines although they never await: FastAPI runs a plain-function
dependency in the thread pool, a hop that cost a play step more than its work.
"""

from __future__ import annotations

from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends
from prospector_common.catalog import Catalog
from prospector_common.settings import Settings
from starlette.requests import HTTPConnection

from .metrics import ApiMetrics
from .resources import Resources
from .sessions import SessionStore
from .settings import ApiSettings


def get_resources(conn: HTTPConnection) -> Resources:
    """The app's resources (a plain function: WebSocket handlers call it directly)."""
    return conn.app.state.resources


async def get_catalog(conn: HTTPConnection) -> Catalog:
    return get_resources(conn).catalog


async def get_store(conn: HTTPConnection) -> SessionStore:
    return get_resources(conn).store


async def get_events_redis(conn: HTTPConnection) -> aioredis.Redis:
    return get_resources(conn).events_redis


async def get_settings(conn: HTTPConnection) -> Settings:
    return get_resources(conn).settings


async def get_api_settings(conn: HTTPConnection) -> ApiSettings:
    return get_resources(conn).api


async def get_metrics(conn: HTTPConnection) -> ApiMetrics:
    return get_resources(conn).metrics


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
StoreDep = Annotated[SessionStore, Depends(get_store)]
EventsRedisDep = Annotated[aioredis.Redis, Depends(get_events_redis)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
