"""FastAPI dependencies: the resources a handler needs, injected from app.state (never globals)."""

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
    return conn.app.state.resources


def get_catalog(conn: HTTPConnection) -> Catalog:
    return get_resources(conn).catalog


def get_store(conn: HTTPConnection) -> SessionStore:
    return get_resources(conn).store


def get_events_redis(conn: HTTPConnection) -> aioredis.Redis:
    return get_resources(conn).events_redis


def get_settings(conn: HTTPConnection) -> Settings:
    return get_resources(conn).settings


def get_api_settings(conn: HTTPConnection) -> ApiSettings:
    return get_resources(conn).api


def get_metrics(conn: HTTPConnection) -> ApiMetrics:
    return get_resources(conn).metrics


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
StoreDep = Annotated[SessionStore, Depends(get_store)]
EventsRedisDep = Annotated[aioredis.Redis, Depends(get_events_redis)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
