"""gRPC PlayService over the same SessionStore as HTTP (a session made here can be stepped over HTTP).

An asyncio servicer (serve it with prospector_rpc.server.serve_grpc_aio): its
calls run on the event loop, like the HTTP handlers, with no thread per call.

Status codes (protos/prospector.proto): an action outside 0..68, a malformed
session id or config is INVALID_ARGUMENT; an unknown, closed or expired session
NOT_FOUND (the message says which); the session cap, a client's cap on live
sessions or its rate of new sessions or steps RESOURCE_EXHAUSTED (trailing
metadata `retry-after`: seconds to wait, as for HTTP's Retry-After); Redis
down UNAVAILABLE; too many concurrent steps on one session ABORTED; bytes that are
not the request message INVALID_ARGUMENT (the servicer decodes its requests itself:
prospector_rpc.server.decoding_registration, one log line per such request); Suggest
with no pretrained model served FAILED_PRECONDITION (the message says why).

Health: `watch_store_health` keeps the PlayService's health status (and the
server's, "") SERVING while the session store answers and NOT_SERVING while it
does not, so a balancer that trusts gRPC health stops sending players to a
replica whose Play calls would all fail UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from prospector import spec
from prospector_common.ids import InvalidId
from prospector_rpc.convert import fields_set
from prospector_rpc.pb import PLAY_SERVICE, pb2, pb2_grpc
from prospector_rpc.server import Registration, decoding_registration

from .limits import ClientLimits, client_key, grpc_peer_host
from .metrics import ApiMetrics
from .pretrained import NoModel, Pretrained
from .sessions import (
    ClientLimited,
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
)

_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (InvalidAction, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidId, grpc.StatusCode.INVALID_ARGUMENT),
    (SessionNotFound, grpc.StatusCode.NOT_FOUND),
    (SessionExpired, grpc.StatusCode.NOT_FOUND),
    (SessionCapReached, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ClientLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (SessionBusy, grpc.StatusCode.ABORTED),
    (NoModel, grpc.StatusCode.FAILED_PRECONDITION),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),  # configs and seeds
    (TypeError, grpc.StatusCode.INVALID_ARGUMENT),
]

log = logging.getLogger("prospector.api.grpc")


def status_of(exc: Exception) -> grpc.StatusCode:
    return next((code for kind, code in _CODES if isinstance(exc, kind)), grpc.StatusCode.INTERNAL)


async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> grpc.StatusCode:
    """End the call with exc's status code and message (and retry-after when it has one)."""
    code = status_of(exc)
    retry = getattr(exc, "retry_after_s", None)
    metadata = () if retry is None else (("retry-after", str(max(1, math.ceil(retry)))),)
    await context.abort(code, str(exc), trailing_metadata=metadata)
    return code  # never reached: abort raises


def peer_client(context: grpc.aio.ServicerContext) -> str:
    """The client a call counts against (limits.client_key of its peer address)."""
    return client_key(grpc_peer_host(context.peer()))


def config_changes(message: pb2.EnvConfig) -> dict[str, Any]:
    """The fields set in an EnvConfig message."""
    return fields_set(message)


def _options(message: pb2.ResponseOptions) -> ViewOptions:
    return ViewOptions(include_state=not message.omit_state_json, include_observation=message.include_observation)


def session_message(view: SessionView) -> pb2.Session:
    return pb2.Session(
        session_id=view.session_id,
        state_json=view.state_json.decode() if view.state_json is not None else "",
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
        state_json=view.state_json.decode() if view.state_json is not None else "",
        info_json=view.info_json.decode(),
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
        except (PlayError, InvalidId, NoModel, ValueError, TypeError) as exc:
            code = status_of(exc)
            await _abort(context, exc)
        finally:
            self.metrics.grpc_done(name, code.name, time.perf_counter() - start)

    return wrapper


class PlayServicer(pb2_grpc.PlayServiceServicer):
    def __init__(self, store: SessionStore, metrics: ApiMetrics | None = None,
                 limits: ClientLimits | None = None, pretrained: Pretrained | None = None) -> None:
        self.store = store
        self.metrics = metrics or ApiMetrics()
        self.limits = limits  # None: no rate per client (the store still caps live sessions per client)
        # the model of Suggest (prospector_api.pretrained); None: none served
        self.pretrained = pretrained or Pretrained(None, "no pretrained model is served here")

    def registration(self) -> Registration:
        """How serve_grpc_aio adds this servicer: requests decoded here, not by grpc (module doc)."""
        return decoding_registration(self, PLAY_SERVICE,
                                     on_undecodable=lambda method: self.metrics.grpc_done(
                                         method, grpc.StatusCode.INVALID_ARGUMENT.name, 0.0))

    # ---- the calls of one session ----------------------------------------------------

    async def _create(self, request: pb2.CreateSessionRequest, client: str) -> SessionView:
        if self.limits is not None:
            self.limits.create(client)
        seed = request.seed if request.HasField("seed") else None
        config = spec.EnvConfig(**config_changes(request.config))
        return await self.store.create(seed, config, _options(request.options), client=client)

    async def _reset(self, request: pb2.ResetRequest, session_id: str, client: str) -> SessionView:
        if self.limits is not None:
            self.limits.step(client)  # a reset counts as a step
        seed = request.seed if request.HasField("seed") else None
        config = None
        changes = config_changes(request.config)
        if changes:
            current = (await self.store.get(session_id, ViewOptions(include_state=False))).config
            config = spec.EnvConfig.from_dict(current).replace(**changes)
        return await self.store.reset(session_id, seed, config, _options(request.options))

    async def _step(self, session_id: str, action: int, options: pb2.ResponseOptions, client: str) -> SessionView:
        if self.limits is not None:
            self.limits.step(client)
        view = await self.store.step(session_id, check_action(action), _options(options))
        self.metrics.step_taken("grpc")
        return view

    # ---- PlayService -------------------------------------------------------------------

    @_observed
    async def CreateSession(self, request: pb2.CreateSessionRequest,
                            context: grpc.aio.ServicerContext) -> pb2.Session:
        return session_message(await self._create(request, peer_client(context)))

    @_observed
    async def Reset(self, request: pb2.ResetRequest, context: grpc.aio.ServicerContext) -> pb2.Session:
        return session_message(await self._reset(request, request.session_id, peer_client(context)))

    @_observed
    async def Step(self, request: pb2.StepRequest, context: grpc.aio.ServicerContext) -> pb2.Transition:
        return transition_message(await self._step(request.session_id, request.action, request.options,
                                                   peer_client(context)))

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

    @_observed
    async def Suggest(self, request: pb2.SuggestRequest, context: grpc.aio.ServicerContext) -> pb2.Suggestion:
        model = self.pretrained
        if model.policy is None:
            raise NoModel(model.reason)
        if self.limits is not None:
            self.limits.step(peer_client(context))  # counts as a step, as over HTTP
        observation, mask, version = await self.store.observe(request.session_id)
        reply = model.suggest(observation, mask, (request.session_id, version))
        self.metrics.suggestion_given("grpc")
        return pb2.Suggestion(model=reply["model"], action=reply["action"], value=reply["value"],
                              entropy=reply["entropy"],
                              top=[pb2.ActionProbability(action=a, probability=p) for a, p in reply["top"]])

    async def Play(self, request_iterator: AsyncIterator[pb2.PlayRequest],
                   context: grpc.aio.ServicerContext) -> AsyncIterator[pb2.Transition]:
        """Commands in, one Transition per command out; the first must be create or attach."""
        session_id: str | None = None
        close_on_end = False
        code = grpc.StatusCode.OK
        start = time.perf_counter()
        requests = request_iterator.__aiter__()
        client = peer_client(context)
        try:
            while True:
                try:
                    try:
                        request = await requests.__anext__()  # UndecodableRequest (ValueError) for bad bytes
                    except StopAsyncIteration:
                        break
                    close_on_end = close_on_end or request.close_on_end
                    command = request.WhichOneof("command")
                    if command is None:
                        raise ValueError("a Play command needs one of create, attach_session_id, action, reset")
                    if session_id is None and command not in ("create", "attach_session_id"):
                        raise ValueError(f"the first Play command must be create or attach_session_id, not {command}")
                    if command == "create":
                        view = await self._create(request.create, client)
                        session_id = view.session_id
                    elif command == "attach_session_id":
                        view = await self.store.get(request.attach_session_id, _options(request.options))
                        session_id = view.session_id
                    elif command == "action":
                        view = await self._step(session_id, request.action, request.options, client)
                    else:
                        view = await self._reset(request.reset, session_id, client)
                except (PlayError, InvalidId, ValueError, TypeError) as exc:
                    code = status_of(exc)
                    await _abort(context, exc)
                yield transition_message(view)
        finally:
            if close_on_end and session_id is not None:
                try:
                    await self.store.close_session(session_id)
                except PlayError:
                    pass  # already gone
            self.metrics.grpc_done("Play", code.name, time.perf_counter() - start)


async def watch_store_health(server: Any, store: SessionStore, every_s: float = 1.0) -> None:
    """Keep server's health for PlayService (and "") in step with the session store: NOT_SERVING
    while Redis does not answer a PING within the store's timeout, SERVING when it does again.
    Runs until cancelled, on the loop of the gRPC server (server: prospector_rpc's AioGrpcServer)."""
    serving: bool | None = None
    while True:
        try:
            await store.aping()
            ok, reason = True, ""
        except PlayError as exc:
            ok, reason = False, str(exc)
        if ok != serving:
            if serving is not None or not ok:
                log.warning("PlayService health: %s%s", "SERVING" if ok else "NOT_SERVING",
                            f" ({reason})" if reason else " (the session store answers again)")
            for service in ("", PLAY_SERVICE):
                await server.set_serving(service, ok)
            serving = ok
        await asyncio.sleep(every_s)
