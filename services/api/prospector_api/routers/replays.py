"""Replays: pages from the catalog, headers and frames from the files, and a paced WebSocket stream.

Replay files are always found from the validated (run_id, replay_id) through
RunPaths, never from a path stored anywhere, so no request can name a file
outside the data dir.

WebSocket `/ws/runs/{run_id}/replays/{replay_id}?fps=&stride=&from=`:

    server -> client   {"type": "init", "replay": {...}, "header": {...}, "length", "fps", "stride", "from"}
                       {"type": "frame", "index", "t", "action", "action_name", "reward", "dt", "events", "state"}
                       {"type": "done", "frames_sent", "length"}    (the socket stays open: seek to play again)
                       {"type": "status", "paused", "fps", "stride", "position", "length"}   (after each control)
                       {"type": "error", "status", "detail"}        (bad control: the stream goes on;
                                                                     bad ids or replay: then closed with 4000+status)
    client -> server   {"type": "pause"} | {"type": "resume"} | {"type": "seek", "frame": n}
                       {"type": "speed", "fps": x} | {"type": "stride", "stride": n}
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from prospector_common.catalog import Catalog, ReplayRecord
from prospector_common.ids import InvalidId, validate_replay_id, validate_run_id
from prospector_common.storage import RunPaths
from prospector_common.replay import ReplayFormatError, read_header
from starlette.concurrency import run_in_threadpool

from ..deps import CatalogDep, SettingsDep, get_resources
from ..schemas import (
    CursorQuery,
    ErrorOut,
    FramePage,
    PageLimit,
    ReplayDetail,
    ReplayIdPath,
    ReplayOut,
    ReplayPageOut,
    RunIdPath,
    TagQuery,
    WindowIdQuery,
)
from .runs import require_run

router = APIRouter(tags=["replays"])

_ERRORS = {404: {"model": ErrorOut, "description": "unknown run or replay"},
           410: {"model": ErrorOut, "description": "the replay is cataloged but its file is gone"},
           503: {"model": ErrorOut, "description": "the catalog database is down"}}

MAX_FRAMES_PAGE = 500
CHUNK = 32  # frames decoded per trip to the thread pool while streaming


def replay_out(record: ReplayRecord) -> ReplayOut:
    return ReplayOut(**record.model_dump(exclude={"path", "return_"}), return_=record.return_)


class ReplayMissing(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def locate(catalog: Catalog, data_dir: Path, run_id: str, replay_id: str) -> tuple[ReplayRecord, Path]:
    """The replay's catalog record and file; ReplayMissing(404 or 410) when either is not there."""
    record = catalog.get_replay(replay_id)
    if record is None or record.run_id != run_id:
        raise ReplayMissing(404, f"replay {replay_id} of run {run_id} is not in the catalog")
    path = RunPaths(data_dir, run_id).replay(replay_id)
    if not path.is_file():
        raise ReplayMissing(410, f"replay {replay_id} is cataloged but its file is gone")
    return record, path


def _locate_http(catalog: Catalog, data_dir: Path, run_id: str, replay_id: str) -> tuple[ReplayRecord, Path]:
    try:
        return locate(catalog, data_dir, run_id, replay_id)
    except ReplayMissing as exc:
        raise HTTPException(exc.status, exc.detail) from None


@router.get("/api/runs/{run_id}/replays", response_model=ReplayPageOut, responses=_ERRORS,
            summary="A page of a run's replays, in window order")
def list_replays(
    run_id: RunIdPath,
    catalog: CatalogDep,
    tag: TagQuery = None,
    window_id: WindowIdQuery = None,
    limit: PageLimit = 100,
    cursor: CursorQuery = None,
) -> ReplayPageOut:
    require_run(catalog, run_id)
    page = catalog.list_replays(run_id, tag=tag, window_id=window_id, limit=limit, cursor=cursor)
    return ReplayPageOut(items=[replay_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/api/runs/{run_id}/replays/{replay_id}", response_model=ReplayDetail, responses=_ERRORS,
            summary="A replay's summary and its file's header")
def get_replay(
    run_id: RunIdPath,
    replay_id: ReplayIdPath,
    catalog: CatalogDep,
    settings: SettingsDep,
    include_actions: Annotated[bool, Query(description="include the full action list")] = False,
) -> ReplayDetail:
    record, path = _locate_http(catalog, settings.data_dir, run_id, replay_id)
    header = read_header(path)
    if not include_actions:
        header = {k: v for k, v in header.items() if k != "actions"}
    return ReplayDetail(replay=replay_out(record), header=header)


@router.get("/api/runs/{run_id}/replays/{replay_id}/frames", response_model=FramePage, responses=_ERRORS,
            summary="Frames offset..offset+limit with their full render states")
def get_frames(
    request: Request,
    run_id: RunIdPath,
    replay_id: ReplayIdPath,
    catalog: CatalogDep,
    settings: SettingsDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="first frame index")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_FRAMES_PAGE, description=f"frames, 1..{MAX_FRAMES_PAGE}")] = 100,
) -> FramePage:
    record, path = _locate_http(catalog, settings.data_dir, run_id, replay_id)
    # from the nearest keyframe: a page near the end costs about what the first one does
    frames = get_resources(request).frames.page(path, offset, limit) if offset < record.length else []
    return FramePage(replay_id=replay_id, offset=offset, length=record.length, frames=frames)


# ---- the WebSocket stream ----------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class _Player:
    """Where the stream is and how it plays; changed by the client's control messages."""

    def __init__(self, length: int, fps: float, stride: int, position: int, max_fps: float) -> None:
        self.length, self.fps, self.stride, self.position = length, fps, stride, position
        self.max_fps = max_fps
        self.paused = False
        self.reposition = True  # the frame iterator must (re)start at `position`
        self.wake = asyncio.Event()
        self.closed = False

    def status(self) -> dict[str, Any]:
        return {"type": "status", "paused": self.paused, "fps": self.fps, "stride": self.stride,
                "position": self.position, "length": self.length}

    def control(self, message: dict[str, Any]) -> None:
        """Apply one control message; ValueError with the reason if it is malformed."""
        kind = message.get("type")
        if kind == "pause":
            self.paused = True
        elif kind in ("resume", "play"):
            self.paused = False
        elif kind == "seek":
            frame = message.get("frame")
            if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
                raise ValueError(f"seek needs 'frame', an integer >= 0, got {frame!r}")
            self.position, self.reposition = min(frame, self.length), True
        elif kind == "speed":
            fps = message.get("fps")
            if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= self.max_fps:
                raise ValueError(f"speed needs 'fps', a number in (0, {self.max_fps:g}], got {fps!r}")
            self.fps = float(fps)
        elif kind == "stride":
            stride = message.get("stride")
            if isinstance(stride, bool) or not isinstance(stride, int) or not 1 <= stride <= 1000:
                raise ValueError(f"stride needs 'stride', an integer in 1..1000, got {stride!r}")
            self.stride, self.reposition = stride, True
        else:
            raise ValueError(f"unknown control {kind!r}: pause, resume, seek, speed or stride")
        self.wake.set()


def _query_number(websocket: WebSocket, name: str, default: float, kind: type, low: float, high: float) -> Any:
    raw = websocket.query_params.get(name)
    if raw is None:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if not low <= value <= high or value != value:
        raise ValueError(f"{name} must be in {low:g}..{high:g}, got {raw!r}")
    return value


@router.websocket("/ws/runs/{run_id}/replays/{replay_id}")
async def replay_stream(websocket: WebSocket, run_id: str, replay_id: str) -> None:
    resources = get_resources(websocket)
    api = resources.api
    await websocket.accept()
    send_lock = asyncio.Lock()

    async def send(value: Any) -> None:
        text = value if isinstance(value, str) else _dumps(value)
        async with send_lock:
            await websocket.send_text(text)

    async def fail(status: int, detail: str) -> None:
        await send({"type": "error", "status": status, "detail": detail})
        await websocket.close(code=4000 + status, reason=detail[:120])

    try:
        validate_run_id(run_id)
        validate_replay_id(replay_id)
        fps = _query_number(websocket, "fps", api.ws_default_fps, float, 1e-3, api.ws_max_fps)
        stride = _query_number(websocket, "stride", 1, int, 1, 1000)
        start = _query_number(websocket, "from", 0, int, 0, 10_000_000)
    except (InvalidId, ValueError) as exc:
        await fail(422, str(exc))
        return
    try:
        record, path = await run_in_threadpool(locate, resources.catalog, resources.settings.data_dir,
                                               run_id, replay_id)
        header = await run_in_threadpool(read_header, path)
    except ReplayMissing as exc:
        await fail(exc.status, exc.detail)
        return
    except ReplayFormatError as exc:
        await fail(500, f"the replay file is unreadable: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - the catalog database down
        await fail(503, f"the catalog is unavailable: {type(exc).__name__}")
        return

    player = _Player(record.length, fps, stride, min(start, record.length), api.ws_max_fps)
    await send({"type": "init", "replay": replay_out(record).model_dump(mode="json", by_alias=True),
                "header": {k: v for k, v in header.items() if k != "actions"}, "length": record.length,
                "fps": fps, "stride": stride, "from": player.position})
    resources.metrics.ws_clients.inc()
    try:
        sender = asyncio.create_task(_send_frames(player, path, send, resources.frames))
        receiver = asyncio.create_task(_receive_controls(websocket, player, send))
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, (WebSocketDisconnect, RuntimeError)):
                raise exc
    finally:
        resources.metrics.ws_clients.dec()


async def _receive_controls(websocket: WebSocket, player: _Player, send: Any) -> None:
    while True:
        text = await websocket.receive_text()  # WebSocketDisconnect ends the stream
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise ValueError("a control message is a JSON object with a 'type'")
            player.control(message)
        except ValueError as exc:
            await send({"type": "error", "status": 422, "detail": str(exc)})
            continue
        await send(player.status())


def _next_chunk(frames: Any) -> list[tuple[int, str]]:
    return [(f["index"], _dumps({"type": "frame", **f})) for f in itertools.islice(frames, CHUNK)]


async def _send_frames(player: _Player, path: Path, send: Any, cache: Any) -> None:
    decoder: Any = None  # the frame generator of the cache (holds the file open); a seek starts at a keyframe
    frames: Any = None  # every stride-th frame of it
    buffer: list[tuple[int, str]] = []
    sent = 0
    done_sent = False
    due = time.monotonic()
    try:
        while True:
            if player.reposition:
                player.reposition, done_sent, buffer = False, False, []
                if decoder is not None:
                    decoder.close()
                decoder = cache.iter(path, player.position)
                frames = itertools.islice(decoder, 0, None, player.stride)
                due = time.monotonic()
            finished = player.position >= player.length
            if player.paused or finished:
                if finished and not done_sent:
                    await send({"type": "done", "frames_sent": sent, "length": player.length})
                    done_sent = True
                    continue
                player.wake.clear()
                await player.wake.wait()
                due = time.monotonic()
                continue
            if not buffer:
                buffer = await run_in_threadpool(_next_chunk, frames)
                if not buffer:  # nothing left (the file is checked against its header's length)
                    player.position = player.length
                    continue
            index, text = buffer.pop(0)
            await send(text)
            sent += 1
            player.position = index + player.stride
            due += 1.0 / player.fps
            now = time.monotonic()
            if due > now:
                player.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(player.wake.wait(), due - now)
            elif now - due > 1.0:
                due = now  # fell far behind (a slow client): do not burst to catch up
    finally:
        if decoder is not None:
            decoder.close()
