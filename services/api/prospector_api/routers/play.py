"""Human play: sessions held in Redis (see prospector_api.sessions), any replica serves any session.

The handlers are coroutines: a step runs on the event loop from request to
response (the store awaits Redis), with no hop to the thread pool, and its
reply is serialized once with orjson, not validated again against the
response model (the model documents it in the OpenAPI schema).

A step is the one request a player's page sends many times a second, and
FastAPI's routing, dependency solving and body validation cost more CPU than
the step itself (about 0.25 ms against 0.2 ms). So `StepFastPath`, a pure ASGI
layer in front of the app, serves a step whose request is plainly well formed
(the exact path, a JSON object of `action` 0..68 and the optional booleans)
and hands everything else, untouched, to the route below, which stays the one
that documents the endpoint and answers every malformed request (422). Both
call the same store and serialize the same reply, and a session error (404,
410, 409, 503) is answered by the same `play_error_response`. A suggestion
(POST .../suggest, no body), which the page may ask for on every step, takes
the same fast path when its path is well formed (`_suggest_reply` serves both).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prospector import spec
from prospector.spec import EnvConfig

from ..deps import MetricsDep, StoreDep, get_resources
from ..limits import client_key
from ..schemas import (
    CloseOut,
    CreateSessionIn,
    ErrorOut,
    ResetIn,
    SessionIdPath,
    SessionOut,
    StepIn,
    StepOut,
    SuggestionOut,
)
from ..sessions import (
    SESSION_ID_RE,
    ClientLimited,
    PlayError,
    SessionBusy,
    SessionCapReached,
    SessionExpired,
    SessionNotFound,
    StoreUnavailable,
    ViewOptions,
    dump_json,
)

router = APIRouter(prefix="/api/play/sessions", tags=["play"],
                   responses={400: {"model": ErrorOut, "description": "a body that is not UTF-8"}})

_UNAVAILABLE = {503: {"model": ErrorOut, "description": "the session store (Redis) is down"}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}
_TOO_MANY_STEPS = {429: {"model": ErrorOut, "headers": _RETRY_AFTER,
                         "description": "this client steps faster than its rate (PROSPECTOR_API_STEPS_PER_S)"}}
_SESSION_ERRORS = {
    404: {"model": ErrorOut, "description": "unknown or closed session"},
    410: {"model": ErrorOut, "description": "the session expired"},
    409: {"model": ErrorOut, "description": "too many concurrent steps on the session; retry"},
    **_UNAVAILABLE,
}
_CREATE_ERRORS = {
    422: {"description": "a body that is missing, not JSON (a JSON object is required, so that a browser "
                         "preflights a cross-origin create) or invalid"},
    429: {"model": ErrorOut, "headers": _RETRY_AFTER,
          "description": "the session cap, this client's cap on live sessions, or its rate of new sessions "
                         "is reached"},
    **_UNAVAILABLE,
}


PLAY_STATUS: dict[type[PlayError], int] = {
    SessionNotFound: 404,
    SessionExpired: 410,
    SessionCapReached: 429,
    ClientLimited: 429,
    StoreUnavailable: 503,
    SessionBusy: 409,
}


def play_error_response(exc: PlayError) -> JSONResponse:
    """The HTTP answer to a session store error: its status and {"detail": message}."""
    status = next((code for kind, code in PLAY_STATUS.items() if isinstance(exc, kind)), 500)
    headers = None if exc.retry_after_s is None else {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def _client(request: Request) -> str:
    return client_key(request.client.host if request.client else None)


class FastJSON(Response):
    """JSON without a second pass through the response model (the hot path: one per step)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dump_json(content)


def _options(body: Any) -> ViewOptions:
    return ViewOptions(include_state=body.include_state, include_observation=body.include_observation)


@router.post("", response_model=SessionOut, status_code=201, responses=_CREATE_ERRORS,
             summary="Start a session: a new episode on the given (or a random) seed; the body is a JSON "
                     "object, {} for the defaults")
async def create_session(request: Request, store: StoreDep, body: CreateSessionIn) -> Response:
    client = _client(request)
    get_resources(request).limits.create(client)
    config = None if body.config is None else body.config.to_config()
    view = await store.create(body.seed, config, _options(body), client=client)
    return FastJSON(view.session_dict(), status_code=201)


@router.get("/{session_id}", response_model=SessionOut, responses=_SESSION_ERRORS,
            summary="The session as it stands")
async def get_session(session_id: SessionIdPath, store: StoreDep, include_state: bool = True,
                      include_observation: bool = False) -> Response:
    return FastJSON((await store.get(session_id, ViewOptions(include_state, include_observation))).session_dict())


@router.post("/{session_id}/step", response_model=StepOut, responses={**_SESSION_ERRORS, **_TOO_MANY_STEPS},
             summary="Take one action (0..68)")
async def step(request: Request, session_id: SessionIdPath, body: StepIn, store: StoreDep,
               metrics: MetricsDep) -> Response:
    get_resources(request).limits.step(_client(request))
    view = await store.step(session_id, body.action, _options(body))
    metrics.step_taken("http")
    return FastJSON(view.step_dict())


@router.post("/{session_id}/reset", response_model=SessionOut, responses={**_SESSION_ERRORS, **_TOO_MANY_STEPS},
             summary="A new episode in the session")
async def reset(request: Request, session_id: SessionIdPath, store: StoreDep, body: ResetIn | None = None) -> Response:
    get_resources(request).limits.step(_client(request))  # a reset counts as a step
    body = body or ResetIn()
    config = None
    if body.config is not None:
        current = (await store.get(session_id, ViewOptions(include_state=False))).config
        config = body.config.to_config(EnvConfig.from_dict(current))
    return FastJSON((await store.reset(session_id, body.seed, config, _options(body))).session_dict())


_SUGGEST_ERRORS = {
    **_SESSION_ERRORS, **_TOO_MANY_STEPS,
    503: {"model": ErrorOut, "description": "no pretrained model is served here (the detail says why), or the "
                                            "session store (Redis) is down"},
}


@router.post("/{session_id}/suggest", response_model=SuggestionOut, responses=_SUGGEST_ERRORS,
             summary="What the pretrained model would do now: its likeliest action, its top 5 with their "
                     "probabilities, its value estimate and entropy (the session is not changed; no body)")
async def suggest(request: Request, session_id: SessionIdPath) -> Response:
    return await _suggest_reply(get_resources(request), session_id, _client(request))


async def _suggest_reply(resources: Any, session_id: str, client: str) -> Response:
    """The answer to a suggestion (the route and the fast path)."""
    model = resources.pretrained
    if model.policy is None:
        return JSONResponse({"detail": model.reason}, status_code=503)
    try:
        resources.limits.step(client)  # a suggestion costs about what a step does: it counts as one
        observation, mask, version = await resources.store.observe(session_id)
    except PlayError as exc:
        return play_error_response(exc)
    reply = model.suggest(observation, mask, (session_id, version))
    resources.metrics.suggestion_given("http")
    return FastJSON(reply)


@router.delete("/{session_id}", response_model=CloseOut, responses=_SESSION_ERRORS,
               summary="End the session and free its slot")
async def close_session(session_id: SessionIdPath, store: StoreDep) -> JSONResponse:
    await store.close_session(session_id)
    return JSONResponse({"closed": True})


# ---- the step's fast path ------------------------------------------------------------------

_STEP_PREFIX, _STEP_SUFFIX = "/api/play/sessions/", "/step"
_STEP_PATH_LENGTH = len(_STEP_PREFIX) + 32 + len(_STEP_SUFFIX)
_SUGGEST_SUFFIX = "/suggest"
_SUGGEST_PATH_LENGTH = len(_STEP_PREFIX) + 32 + len(_SUGGEST_SUFFIX)
_STEP_FIELDS = {"action", "include_state", "include_observation"}


def _plain_step(body: bytes) -> tuple[int, ViewOptions] | None:
    """(action, options) when body is exactly what StepIn accepts without coercion, else None."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or "action" not in data or not data.keys() <= _STEP_FIELDS:
        return None
    action = data["action"]
    if type(action) is not int or not 0 <= action < spec.N_ACTIONS:
        return None
    state, observation = data.get("include_state", True), data.get("include_observation", False)
    if type(state) is not bool or type(observation) is not bool:
        return None
    return action, ViewOptions(include_state=state, include_observation=observation)


class StepFastPath:
    """Pure ASGI: well-formed step requests served here, everything else passed on (module doc)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # the documented routes: what MetricsMiddleware labels these requests with, as for the routes
        self.route = next(r for r in router.routes if getattr(r, "endpoint", None) is step)
        self.suggest_route = next(r for r in router.routes if getattr(r, "endpoint", None) is suggest)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (scope["type"] == "http" and scope["method"] == "POST" and len(path) == _SUGGEST_PATH_LENGTH
                and path.startswith(_STEP_PREFIX) and path.endswith(_SUGGEST_SUFFIX)
                and SESSION_ID_RE.match(path[len(_STEP_PREFIX):-len(_SUGGEST_SUFFIX)])):
            scope["route"] = self.suggest_route
            resources = scope["app"].state.resources
            reply = await _suggest_reply(resources, path[len(_STEP_PREFIX):-len(_SUGGEST_SUFFIX)],
                                         client_key((scope.get("client") or (None,))[0]))
            await reply(scope, receive, send)
            return
        if (scope["type"] != "http" or scope["method"] != "POST" or len(path) != _STEP_PATH_LENGTH
                or not path.startswith(_STEP_PREFIX) or not path.endswith(_STEP_SUFFIX)
                or not SESSION_ID_RE.match(path[len(_STEP_PREFIX):-len(_STEP_SUFFIX)])
                or _content_type(scope) != b"application/json"):
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:  # the body (small: BodySizeLimit, outside this, has capped it)
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        plain = _plain_step(body) if messages[-1]["type"] == "http.request" else None
        if plain is None:  # the route decides, from the same bytes

            async def replay() -> dict:
                return messages.pop(0) if messages else await receive()

            await self.app(scope, replay, send)
            return
        action, options = plain
        resources = scope["app"].state.resources
        scope["route"] = self.route
        try:
            resources.limits.step(client_key((scope.get("client") or (None,))[0]))
            view = await resources.store.step(path[len(_STEP_PREFIX):-len(_STEP_SUFFIX)], action, options)
        except PlayError as exc:
            await play_error_response(exc)(scope, receive, send)
            return
        resources.metrics.step_taken("http")
        await FastJSON(view.step_dict())(scope, receive, send)


def _content_type(scope: dict) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return None
