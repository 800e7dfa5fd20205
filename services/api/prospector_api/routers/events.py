"""Live events (Server-Sent Events): new windows and new replays, relayed from the Redis streams.

Each client reads the streams itself (XREAD with BLOCK, no consumer group: every
client sees every entry) from where they stood when it connected, so nothing
announced after the connection is missed between two reads. Events:

    event: window   data: a WindowAnnouncement (run_id, window_id, env_steps, checkpoint_path, metrics)
    event: replay   data: a ReplayAnnouncement (run_id, window_id, replay_id, tags)
    event: unavailable  data: {"detail": ...}   Redis went away; the stream retries every second

Every event has an id; a client that reconnects with Last-Event-ID (browsers
do) continues after it. A comment line is sent every PROSPECTOR_API_EVENTS_BLOCK_MS
when nothing happens, so proxies keep the connection. Redis down when a client
connects: 503 with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from prospector_common.ids import validate_run_id
from prospector_common.streams import ReplayAnnouncement, WindowAnnouncement
from pydantic import AfterValidator

from ..deps import ApiSettingsDep, EventsRedisDep, MetricsDep, get_resources
from ..schemas import RUN_ID_PATTERN, ErrorOut, shape_then

log = logging.getLogger("prospector.api.events")

router = APIRouter(tags=["events"])

ENTRY_ID_RE = re.compile(r"\A\d{1,20}-\d{1,20}\Z")
KINDS = ("window", "replay")


# as for IDs in paths: the pattern decides 422; one of its shape that cannot exist is a 404
_run_id = shape_then(validate_run_id, RUN_ID_PATTERN)


def _parse_last_event_id(value: str | None, n: int) -> list[str] | None:
    if not value:
        return None
    parts = value.split("|")
    if len(parts) != n or not all(ENTRY_ID_RE.match(p) for p in parts):
        return None  # not one of ours: start from now
    return parts


async def _stream_tail(client: Any, stream: str) -> str:
    last = await client.xrevrange(stream, count=1)
    return last[0][0] if last else "0-0"


@router.get(
    "/api/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events, until closed"},
               404: {"model": ErrorOut, "description": "run_id has the documented shape but no run can have it "
                                                         "(not a real date and time)"},
               503: {"model": ErrorOut, "description": "Redis is down"}},
    summary="New windows and new replays, live (Server-Sent Events)",
)
async def events(
    request: Request,
    client: EventsRedisDep,
    api: ApiSettingsDep,
    metrics: MetricsDep,
    types: Annotated[str, Query(pattern=r"^(window|replay)(,(window|replay))?$",
                                description="comma-separated: window, replay")] = "window,replay",
    run_id: Annotated[str | None, Query(pattern=RUN_ID_PATTERN, max_length=64, description="only this run"),
                      AfterValidator(lambda v: None if v is None else _run_id(v))] = None,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> StreamingResponse:
    wanted = set(types.split(","))
    streams = {api.windows_stream: "window", api.replays_stream: "replay"}
    names = list(streams)
    try:
        resumed = _parse_last_event_id(last_event_id, len(names))
        positions = dict(zip(names, resumed)) if resumed else {s: await _stream_tail(client, s) for s in names}
    except (redis.RedisError, OSError) as exc:
        raise HTTPException(503, f"live events are unavailable: Redis: {type(exc).__name__}: {exc}") from None

    stopping = get_resources(request).stopping

    async def generate() -> AsyncIterator[str]:
        metrics.event_clients.inc()
        stop = asyncio.ensure_future(stopping.wait())
        try:
            yield "retry: 2000\n\n"
            while True:
                read = asyncio.ensure_future(client.xread(positions, block=api.events_block_ms, count=100))
                await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():  # the API is stopping: end the stream (the browser reconnects)
                    read.cancel()
                    with contextlib.suppress(asyncio.CancelledError, redis.RedisError, OSError):
                        await read
                    return
                try:
                    reply = read.result()
                except (redis.RedisError, OSError) as exc:
                    detail = f"Redis: {type(exc).__name__}: {exc}"
                    yield f"event: unavailable\ndata: {json.dumps({'detail': detail})}\n\n"
                    await asyncio.sleep(1.0)
                    continue
                if not reply:
                    yield ": keep-alive\n\n"
                    continue
                for stream, entries in reply:
                    for entry_id, fields in entries:
                        positions[stream] = entry_id
                        kind = streams[stream]
                        if kind not in wanted:
                            continue
                        model = WindowAnnouncement if kind == "window" else ReplayAnnouncement
                        try:
                            message = model.from_fields(fields)
                        except ValueError as exc:
                            log.warning("skipping malformed %s entry %s: %s", stream, entry_id, exc)
                            continue
                        if run_id is not None and message.run_id != run_id:
                            continue
                        event_id = "|".join(positions[s] for s in names)
                        data = json.dumps(message.model_dump(mode="json"), separators=(",", ":"))
                        yield f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n"
        finally:
            stop.cancel()
            metrics.event_clients.dec()

    return StreamingResponse(generate(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
