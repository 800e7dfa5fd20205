"""What the API holds for its lifetime: catalog, session store, Redis for events, metrics.

Built once per process (`build_resources`) and shared by the HTTP app and the
gRPC PlayService, so both transports use one session store.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from prospector_common.catalog import Catalog
from prospector_common.settings import Settings

from .frames import FrameCache
from .limits import ClientLimits
from .metrics import ApiMetrics
from .pretrained import Pretrained, load_pretrained
from .sessions import SessionStore
from .settings import ApiSettings

log = logging.getLogger("prospector.api")


@dataclass
class Resources:
    settings: Settings
    api: ApiSettings
    catalog: Catalog
    store: SessionStore
    events_redis: aioredis.Redis
    metrics: ApiMetrics
    limits: ClientLimits  # what one client may do per second (HTTP and gRPC alike)
    frames: FrameCache = field(default_factory=FrameCache)  # keyframe indexes of replays read lately
    # the model of the play page's suggestions (prospector_api.pretrained), or why there is none
    pretrained: Pretrained = field(default_factory=lambda: Pretrained(None, "no pretrained model is served here"))
    # set when the process is asked to stop (prospector_api.server): live-event streams end then,
    # rather than hold the shutdown until uvicorn's grace runs out
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def close(self) -> None:
        self.store.close()
        self.catalog.close()

    async def aclose(self) -> None:
        await self.events_redis.aclose()
        await self.store.aclose()  # this loop's play connections
        self.close()


def build_resources(settings: Settings, api: ApiSettings, metrics: ApiMetrics | None = None) -> Resources:
    """Open everything; nothing here needs Redis or the database to be up yet."""
    catalog = Catalog(settings.database_url)
    try:
        catalog.create_all()  # a fresh data dir has no catalog yet; safe on every start
    except Exception as exc:  # noqa: BLE001 - the database may come up later; /readyz says so
        log.warning("catalog not reachable at start (%s); catalog endpoints answer 503 until it is", exc)
    events_redis = aioredis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=api.redis_timeout_s,
        socket_timeout=api.events_block_ms / 1000 + 5,
    )
    store, pretrained = SessionStore.from_settings(settings, api), load_pretrained(api)
    if pretrained.has_travel_memory:  # its sessions' travel memories follow their steps
        store.step_listener = pretrained.memories
    return Resources(
        settings=settings,
        api=api,
        catalog=catalog,
        store=store,
        events_redis=events_redis,
        metrics=metrics or ApiMetrics(),
        limits=ClientLimits.from_settings(api),
        pretrained=pretrained,
    )
