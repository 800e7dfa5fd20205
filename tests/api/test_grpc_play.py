"""gRPC PlayService over a real localhost socket, sharing the session store with HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import grpc
import pytest
from fastapi.testclient import TestClient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prospector import spec
from prospector.engine import Engine
from prospector.spec import EnvConfig
from prospector_api.app import create_app
from prospector_api.grpc_play import PlayServicer
from prospector_api.resources import build_resources
from prospector_rpc.pb import PLAY_SERVICE, pb2, pb2_grpc
from prospector_rpc.server import serve_grpc_aio

from .conftest import api_settings_for


class LoopThread:
    """An event loop in a thread of its own, for an asyncio gRPC server beside a sync test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def stack(settings, prefix) -> Iterator[tuple[TestClient, pb2_grpc.PlayServiceStub, int]]:
    """One process's resources behind both transports, as `prospector api` runs them (the gRPC
    server on a loop of its own here: the store keeps connections per loop)."""
    resources = build_resources(settings, api_settings_for(prefix, max_sessions=3))
    loop = LoopThread()
    server = loop.run(serve_grpc_aio([PlayServicer(resources.store, resources.metrics)], port=0, host="127.0.0.1",
                                     max_receive_message_bytes=64 * 1024))
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        with TestClient(create_app(resources=resources)) as client:
            yield client, pb2_grpc.PlayServiceStub(channel), server.port
    finally:
        channel.close()
        loop.run(server.stop(grace=1))
        loop.run(resources.store.aclose())
        loop.close()
        resources.close()


def test_session_created_over_grpc_is_stepped_over_http_and_back(stack):
    client, stub, _ = stack
    session = stub.CreateSession(pb2.CreateSessionRequest(seed=77, config=pb2.EnvConfig(pirates=False)))
    engine = Engine(EnvConfig(pirates=False), seed=77)
    assert json.loads(session.state_json) == engine.render_state()
    assert session.seed == 77 and session.config.pirates is False and session.config.time_max == 20000
    step = client.post(f"/api/play/sessions/{session.session_id}/step", json={"action": 8}).json()
    engine.step(8)
    assert step["state"] == engine.render_state()
    transition = stub.Step(pb2.StepRequest(session_id=session.session_id, action=0))
    reward, terminated, truncated = engine.step(0)
    assert (transition.reward, transition.terminated, transition.truncated) == (pytest.approx(reward),
                                                                                terminated, truncated)
    assert json.loads(transition.state_json) == engine.render_state() and transition.t == engine.t
    assert list(transition.action_mask) == [bool(m) for m in engine.action_mask()]
    assert json.loads(transition.info_json)["events"] == engine.events()
    http_session = client.post("/api/play/sessions", json={"seed": 5}).json()
    lean = stub.Step(pb2.StepRequest(session_id=http_session["session_id"], action=6,
                                     options=pb2.ResponseOptions(omit_state_json=True, include_observation=True)))
    other = Engine(seed=5)
    other.step(6)
    assert lean.state_json == "" and list(lean.observation) == pytest.approx(list(other.observation()))
    reset = stub.Reset(pb2.ResetRequest(session_id=session.session_id, seed=3, config=pb2.EnvConfig(time_max=99)))
    assert reset.seed == 3 and reset.config.time_max == 99 and reset.config.pirates is False
    assert stub.CloseSession(pb2.CloseSessionRequest(session_id=session.session_id)).closed
    assert client.get(f"/api/play/sessions/{session.session_id}").status_code == 404


def test_status_codes_for_bad_actions_sessions_and_the_cap(stack):
    _, stub, _ = stack
    sid = stub.CreateSession(pb2.CreateSessionRequest()).session_id
    for action in (69, -1):
        with pytest.raises(grpc.RpcError) as err:
            stub.Step(pb2.StepRequest(session_id=sid, action=action))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "0..68" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.Step(pb2.StepRequest(session_id="../../etc/passwd", action=1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        stub.Step(pb2.StepRequest(session_id="f" * 32, action=1))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and "does not exist" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateSession(pb2.CreateSessionRequest(config=pb2.EnvConfig(reward_mode="dense")))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reward_mode" in err.value.details()
    stub.CreateSession(pb2.CreateSessionRequest())
    stub.CreateSession(pb2.CreateSessionRequest())
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateSession(pb2.CreateSessionRequest())
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as err:  # an oversized message (over 64 KiB)
        stub.CreateSession(pb2.CreateSessionRequest(config=pb2.EnvConfig(reward_mode="x" * 100_000)))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_play_stream_for_bots(stack):
    client, stub, _ = stack
    http_sid = client.post("/api/play/sessions", json={"seed": 11}).json()["session_id"]
    engine = Engine(seed=11)

    def commands():
        yield pb2.PlayRequest(attach_session_id=http_sid, options=pb2.ResponseOptions(omit_state_json=True))
        for action in (8, 6, 6):
            yield pb2.PlayRequest(action=action, options=pb2.ResponseOptions(omit_state_json=True),
                                  close_on_end=True)
        yield pb2.PlayRequest(reset=pb2.ResetRequest(seed=4))

    out = list(stub.Play(commands()))
    assert [t.action for t in out] == [-1, 8, 6, 6, -1]
    for action in (8, 6, 6):
        engine.step(action)
    assert out[3].t == engine.t and out[4].t == 0
    assert json.loads(out[4].state_json) == Engine(seed=4).render_state()
    assert client.get(f"/api/play/sessions/{http_sid}").status_code == 404  # close_on_end

    with pytest.raises(grpc.RpcError) as err:
        list(stub.Play(iter([pb2.PlayRequest(action=1)])))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "first" in err.value.details()
    created = list(stub.Play(iter([pb2.PlayRequest(create=pb2.CreateSessionRequest(seed=2)),
                                   pb2.PlayRequest(action=6)])))
    assert created[0].session_id == created[1].session_id and created[1].t == 1
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Play(iter([pb2.PlayRequest(attach_session_id=created[0].session_id), pb2.PlayRequest(action=70)])))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_actions_health_and_reflection(stack):
    _, stub, _ = stack
    actions = stub.ListActions(pb2.ListActionsRequest())
    assert [a.name for a in actions.actions] == list(spec.ACTION_NAMES) and actions.spec_version == spec.SPEC_VERSION
    assert actions.actions[42].group == "station"
    channel = grpc.insecure_channel(f"127.0.0.1:{stack[2]}")
    try:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service=PLAY_SERVICE))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answer = next(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        assert PLAY_SERVICE in {s.name for s in answer.list_services_response.service}
    finally:
        channel.close()
