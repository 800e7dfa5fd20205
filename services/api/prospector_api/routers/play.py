"""Human play: sessions held in Redis (see prospector_api.sessions), any replica serves any session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ..deps import MetricsDep, StoreDep
from ..schemas import CloseOut, CreateSessionIn, ErrorOut, ResetIn, SessionIdPath, SessionOut, StepIn, StepOut
from ..sessions import ViewOptions

router = APIRouter(prefix="/api/play/sessions", tags=["play"],
                   responses={400: {"model": ErrorOut, "description": "a body that is not UTF-8"}})

_UNAVAILABLE = {503: {"model": ErrorOut, "description": "the session store (Redis) is down"}}
_SESSION_ERRORS = {
    404: {"model": ErrorOut, "description": "unknown or closed session"},
    410: {"model": ErrorOut, "description": "the session expired"},
    409: {"model": ErrorOut, "description": "too many concurrent steps on the session; retry"},
    **_UNAVAILABLE,
}


class FastJSON(Response):
    """JSON without a second pass through the response model (the hot path: one per step)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        from ..app import dumps

        return dumps(content)


def _options(body: Any) -> ViewOptions:
    return ViewOptions(include_state=body.include_state, include_observation=body.include_observation)


@router.post("", response_model=SessionOut, status_code=201,
             responses={429: {"model": ErrorOut, "description": "the session cap is reached"}, **_UNAVAILABLE},
             summary="Start a session: a new episode on the given (or a random) seed")
def create_session(store: StoreDep, body: CreateSessionIn | None = None) -> Response:
    body = body or CreateSessionIn()
    config = None if body.config is None else body.config.to_config()
    view = store.create(body.seed, config, _options(body))
    return FastJSON(view.session_dict(), status_code=201)


@router.get("/{session_id}", response_model=SessionOut, responses=_SESSION_ERRORS,
            summary="The session as it stands")
def get_session(session_id: SessionIdPath, store: StoreDep, include_state: bool = True,
                include_observation: bool = False) -> Response:
    return FastJSON(store.get(session_id, ViewOptions(include_state, include_observation)).session_dict())


@router.post("/{session_id}/step", response_model=StepOut, responses=_SESSION_ERRORS,
             summary="Take one action (0..68)")
def step(session_id: SessionIdPath, body: StepIn, store: StoreDep, metrics: MetricsDep) -> Response:
    view = store.step(session_id, body.action, _options(body))
    metrics.play_steps.labels("http").inc()
    return FastJSON(view.step_dict())


@router.post("/{session_id}/reset", response_model=SessionOut, responses=_SESSION_ERRORS,
             summary="A new episode in the session")
def reset(session_id: SessionIdPath, store: StoreDep, body: ResetIn | None = None) -> Response:
    body = body or ResetIn()
    config = None
    if body.config is not None:
        current = store.get(session_id, ViewOptions(include_state=False)).config
        from prospector.spec import EnvConfig

        config = body.config.to_config(EnvConfig.from_dict(current))
    return FastJSON(store.reset(session_id, body.seed, config, _options(body)).session_dict())


@router.delete("/{session_id}", response_model=CloseOut, responses=_SESSION_ERRORS,
               summary="End the session and free its slot")
def close_session(session_id: SessionIdPath, store: StoreDep) -> JSONResponse:
    store.close_session(session_id)
    return JSONResponse({"closed": True})
