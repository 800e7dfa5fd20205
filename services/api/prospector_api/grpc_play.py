"""gRPC PlayService over the same SessionStore as HTTP (a session made here can be stepped over HTTP).

An asyncio servicer (serve it with prospector_rpc.server.serve_grpc_aio): its
calls run on the event loop, like the HTTP handlers, with no thread per call.

Status codes (protos/prospector.proto): an action outside 0..68, a malformed
session id or config is INVALID_ARGUMENT; an unknown, closed or expired session
NOT_FOUND (the message says which); the session cap RESOURCE_EXHAUSTED; Redis
down UNAVAILABLE; too many concurrent steps on one session ABORTED.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from prospector import spec
from prospector_common.ids import InvalidId
from prospector_rpc.convert import fields_set
from prospector_rpc.pb import pb2, pb2_grpc

from .metrics import ApiMetrics
from .sessions import (
    InvalidAction,
    PlayError,
    SessionBusy,
    SessionCapReached,
    SessionExpired,
    SessionNotFound,
    SessionStore,
    SessionView,
    StoreUnavailable,
    ViewOptions,
    check_action,
    dump_json,
)

_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (InvalidAction, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidId, grpc.StatusCode.INVALID_ARGUMENT),
    (SessionNotFound, grpc.StatusCode.NOT_FOUND),
    (SessionExpired, grpc.StatusCode.NOT_FOUND),
    (SessionCapReached, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (SessionBusy, grpc.StatusCode.ABORTED),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),  # configs and seeds
    (TypeError, grpc.StatusCode.INVALID_ARGUMENT),
]

def status_of(exc: Exception) -> grpc.StatusCode:
    return next((code for kind, code in _CODES if isinstance(exc, kind)), grpc.StatusCode.INTERNAL)


def config_changes(message: pb2.EnvConfig) -> dict[str, Any]:
    """The fields set in an EnvConfig message."""
    return fields_set(message)


def _options(message: pb2.ResponseOptions) -> ViewOptions:
    return ViewOptions(include_state=not message.omit_state_json, include_observation=message.include_observation)


def _dumps(value: Any) -> str:
    return dump_json(value).decode()


def session_message(view: SessionView) -> pb2.Session:
    return pb2.Session(
        session_id=view.session_id,
        state_json=_dumps(view.state) if view.state is not None else "",
        action_mask=view.action_mask,
        seed=view.seed,
        config=pb2.EnvConfig(**view.config),
        expires_at=view.expires_at,
        observation=view.observation or (),
    )


def transition_message(view: SessionView) -> pb2.Transition:
    return pb2.Transition(
        session_id=view.session_id,
        action=view.action,
        reward=view.reward,
        terminated=view.terminated,
        truncated=view.truncated,
        state_json=_dumps(view.state) if view.state is not None else "",
        info_json=_dumps(view.info) if view.info is not None else "",
        action_mask=view.action_mask,
        t=view.t,
        observation=view.observation or (),
    )


def _observed(method: Callable) -> Callable:
    """Time a unary call, count it by status code, and turn store errors into status codes."""
    name = method.__name__

    @functools.wraps(method)
    async def wrapper(self: PlayServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await method(self, request, context)
        except (PlayError, InvalidId, ValueError, TypeError) as exc:
            code = status_of(exc)
            await context.abort(code, str(exc))
        finally:
            self.metrics.grpc_done(name, code.name, time.perf_counter() - start)

    return wrapper


class PlayServicer(pb2_grpc.PlayServiceServicer):
    def __init__(self, store: SessionStore, metrics: ApiMetrics | None = None) -> None:
        self.store = store
        self.metrics = metrics or ApiMetrics()

    # ---- the calls of one session ----------------------------------------------------

    async def _create(self, request: pb2.CreateSessionRequest) -> SessionView:
        seed = request.seed if request.HasField("seed") else None
        config = spec.EnvConfig(**config_changes(request.config))
        return await self.store.create(seed, config, _options(request.options))

    async def _reset(self, request: pb2.ResetRequest, session_id: str) -> SessionView:
        seed = request.seed if request.HasField("seed") else None
        config = None
        changes = config_changes(request.config)
        if changes:
            current = (await self.store.get(session_id, ViewOptions(include_state=False))).config
            config = spec.EnvConfig.from_dict(current).replace(**changes)
        return await self.store.reset(session_id, seed, config, _options(request.options))

    async def _step(self, session_id: str, action: int, options: pb2.ResponseOptions) -> SessionView:
        view = await self.store.step(session_id, check_action(action), _options(options))
        self.metrics.step_taken("grpc")
        return view

    # ---- PlayService -------------------------------------------------------------------

    @_observed
    async def CreateSession(self, request: pb2.CreateSessionRequest,
                            context: grpc.aio.ServicerContext) -> pb2.Session:
        return session_message(await self._create(request))

    @_observed
    async def Reset(self, request: pb2.ResetRequest, context: grpc.aio.ServicerContext) -> pb2.Session:
        return session_message(await self._reset(request, request.session_id))

    @_observed
    async def Step(self, request: pb2.StepRequest, context: grpc.aio.ServicerContext) -> pb2.Transition:
        return transition_message(await self._step(request.session_id, request.action, request.options))

    @_observed
    async def CloseSession(self, request: pb2.CloseSessionRequest,
                           context: grpc.aio.ServicerContext) -> pb2.CloseSessionReply:
        await self.store.close_session(request.session_id)
        return pb2.CloseSessionReply(closed=True)

    @_observed
    async def ListActions(self, request: pb2.ListActionsRequest,
                          context: grpc.aio.ServicerContext) -> pb2.ActionList:
        return pb2.ActionList(
            actions=[pb2.Action(index=i, name=name, group=spec.ACTION_GROUP_OF[i])
                     for i, name in enumerate(spec.ACTION_NAMES)],
            spec_version=spec.SPEC_VERSION,
        )

    async def Play(self, request_iterator: AsyncIterator[pb2.PlayRequest],
                   context: grpc.aio.ServicerContext) -> AsyncIterator[pb2.Transition]:
        """Commands in, one Transition per command out; the first must be create or attach."""
        session_id: str | None = None
        close_on_end = False
        code = grpc.StatusCode.OK
        start = time.perf_counter()
        try:
            async for request in request_iterator:
                close_on_end = close_on_end or request.close_on_end
                command = request.WhichOneof("command")
                try:
                    if command is None:
                        raise ValueError("a Play command needs one of create, attach_session_id, action, reset")
                    if session_id is None and command not in ("create", "attach_session_id"):
                        raise ValueError(f"the first Play command must be create or attach_session_id, not {command}")
                    if command == "create":
                        view = await self._create(request.create)
                        session_id = view.session_id
                    elif command == "attach_session_id":
                        view = await self.store.get(request.attach_session_id, _options(request.options))
                        session_id = view.session_id
                    elif command == "action":
                        view = await self._step(session_id, request.action, request.options)
                    else:
                        view = await self._reset(request.reset, session_id)
                except (PlayError, InvalidId, ValueError, TypeError) as exc:
                    code = status_of(exc)
                    await context.abort(code, str(exc))
                yield transition_message(view)
        finally:
            if close_on_end and session_id is not None:
                try:
                    await self.store.close_session(session_id)
                except PlayError:
                    pass  # already gone
            self.metrics.grpc_done("Play", code.name, time.perf_counter() - start)
