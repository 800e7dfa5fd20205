"""Suggestions of the pretrained model, over HTTP (POST /api/play/sessions/{id}/suggest) and gRPC
(PlayService.Suggest over a real socket): what the exported model says for the session's current
state, the same as torch's policy says; 404 / NOT_FOUND for an unknown session; 503 /
FAILED_PRECONDITION with the reason when no model is served; /api/meta names the model."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import torch
from fastapi.testclient import TestClient
from prospector import spec
from prospector.engine import Engine
from prospector.rollout import random_valid_action
from prospector_api import settings as api_settings_module
from prospector_api.app import create_app
from prospector_api.grpc_play import PlayServicer
from prospector_api.pretrained import load_pretrained
from prospector_api.resources import build_resources
from prospector_common.policy import checkpoint as ckpt
from prospector_common.policy.actor import explain
from prospector_common.policy.network import policy_input
from prospector_common.policy.serving import NumpyPolicy, export_numpy
from prospector_rpc.pb import PLAY_SERVICE, pb2, pb2_grpc
from prospector_rpc.server import serve_grpc_aio

from .conftest import api_settings_for
from .test_grpc_play import LoopThread


@pytest.fixture(scope="module")
def model_file(recorded, tmp_path_factory) -> Path:
    """The recorded run's window-1 checkpoint (the trainer's code path), exported for serving."""
    checkpoint = recorded.data_dir / recorded.run_id / "checkpoints" / "ckpt_1.pt"
    return export_numpy(checkpoint, tmp_path_factory.mktemp("model") / "policy.npz", name="tiny test model")


@pytest.fixture(scope="module")
def torch_policy(recorded):
    policy, data = ckpt.load_policy(recorded.data_dir / recorded.run_id / "checkpoints" / "ckpt_1.pt")
    return policy.eval(), data["policy_kwargs"]["action_masking"]


def _stack(settings, api) -> Iterator[tuple[TestClient, pb2_grpc.PlayServiceStub]]:
    resources = build_resources(settings, api)
    loop = LoopThread()
    server = loop.run(serve_grpc_aio([PlayServicer(resources.store, resources.metrics, resources.limits,
                                                   resources.pretrained)], port=0, host="127.0.0.1"))
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        with TestClient(create_app(resources=resources)) as client:
            stub = pb2_grpc.PlayServiceStub(channel)
            stub.channel = channel  # for raw calls
            yield client, stub
    finally:
        channel.close()
        loop.run(server.stop(grace=1))
        loop.run(resources.store.aclose())
        loop.close()
        resources.close()


@pytest.fixture
def served(settings, prefix, model_file):
    yield from _stack(settings, api_settings_for(prefix, pretrained_model=model_file))


@pytest.fixture
def unserved(settings, prefix, tmp_path):
    yield from _stack(settings, api_settings_for(prefix, pretrained_model=tmp_path / "no-such-model.npz"))


def _expected(torch_policy, engine: Engine) -> dict:
    policy, masking = torch_policy
    x = torch.from_numpy(policy_input(engine.observation()[None], engine.action_mask()[None], masking))
    with torch.no_grad():
        logits, value = policy.forward_eval(x, {})
    return {"argmax": int(logits.argmax()), **explain(logits, value, k=5)[0]}


def test_http_suggestions_follow_the_session_and_agree_with_torch(served, torch_policy):
    client, _ = served
    sid = client.post("/api/play/sessions", json={"seed": 5, "include_state": False}).json()["session_id"]
    engine = Engine(seed=5)
    rng = random.Random(5)
    for _ in range(25):
        reply = client.post(f"/api/play/sessions/{sid}/suggest")
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert set(body) == {"model", "action", "top", "value", "entropy"}
        expected = _expected(torch_policy, engine)
        assert body["model"] == "tiny test model"
        assert body["action"] == expected["argmax"] == body["top"][0][0]
        assert len(body["top"]) == 5 and all(len(pair) == 2 for pair in body["top"])
        assert [a for a, _ in body["top"]][:1] == [a for a, _ in expected["top"]][:1]
        for (a, p), (b, q) in zip(body["top"], expected["top"]):
            assert p == pytest.approx(q, abs=2e-4)
        probs = [p for _, p in body["top"]]
        assert probs == sorted(probs, reverse=True)
        assert body["value"] == pytest.approx(expected["value"], rel=1e-3, abs=1e-4)
        assert body["entropy"] == pytest.approx(expected["entropy"], abs=2e-4)
        # asking changes nothing: the session is where it was, and steps on as the engine does
        assert client.get(f"/api/play/sessions/{sid}", params={"include_state": False}).json()["t"] == engine.t
        action = random_valid_action(rng, engine.action_mask(), exclude=(spec.A_CASH_OUT,))
        step = client.post(f"/api/play/sessions/{sid}/step", json={"action": action, "include_state": False})
        assert step.status_code == 200
        engine.step(action)
        if engine.done:
            break
    metrics = client.get("/metrics").text
    assert 'prospector_api_play_suggestions_total{transport="http"} 25.0' in metrics


def test_grpc_suggest_gives_the_same_content(served):
    client, stub = served
    sid = client.post("/api/play/sessions", json={"seed": 9, "include_state": False}).json()["session_id"]
    for action in (6, 6, 8):
        http = client.post(f"/api/play/sessions/{sid}/suggest").json()
        reply = stub.Suggest(pb2.SuggestRequest(session_id=sid), timeout=5)
        assert reply.model == http["model"] and reply.action == http["action"]
        assert [[t.action, t.probability] for t in reply.top] == http["top"]
        assert reply.value == http["value"] and reply.entropy == http["entropy"]
        stub.Step(pb2.StepRequest(session_id=sid, action=action, options=pb2.ResponseOptions(omit_state_json=True)))


def test_unknown_or_malformed_sessions(served):
    client, stub = served
    unknown = "0123456789abcdef" * 2
    reply = client.post(f"/api/play/sessions/{unknown}/suggest")
    assert reply.status_code == 404 and "does not exist" in reply.json()["detail"]
    assert client.post("/api/play/sessions/not-an-id/suggest").status_code == 422
    with pytest.raises(grpc.RpcError) as err:
        stub.Suggest(pb2.SuggestRequest(session_id=unknown), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        stub.Suggest(pb2.SuggestRequest(session_id="nope"), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    closed = client.post("/api/play/sessions", json={"include_state": False}).json()["session_id"]
    client.delete(f"/api/play/sessions/{closed}")
    assert client.post(f"/api/play/sessions/{closed}/suggest").status_code == 404


def test_meta_names_the_model(served):
    client, _ = served
    assert client.get("/api/meta").json()["pretrained"]["name"] == "tiny test model"  # and its run: test_meta_pretrained


def test_without_a_model_suggest_says_why(unserved):
    client, stub = unserved
    sid = client.post("/api/play/sessions", json={"include_state": False}).json()["session_id"]
    reply = client.post(f"/api/play/sessions/{sid}/suggest")
    assert reply.status_code == 503
    assert "could not be loaded" in reply.json()["detail"] and "no-such-model.npz" in reply.json()["detail"]
    with pytest.raises(grpc.RpcError) as err:
        stub.Suggest(pb2.SuggestRequest(session_id=sid), timeout=5)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "could not be loaded" in err.value.details()
    meta = client.get("/api/meta").json()
    assert meta["pretrained"] is None and meta["n_actions"] == spec.N_ACTIONS


def test_model_setting_and_default(prefix, tmp_path, model_file, monkeypatch):
    monkeypatch.setenv("PROSPECTOR_MODEL_DIR", str(tmp_path / "models"))  # not there yet: no model
    monkeypatch.delenv("PROSPECTOR_PRETRAINED_MODEL", raising=False)
    none = load_pretrained(api_settings_for(prefix))
    assert none.policy is None and "PROSPECTOR_PRETRAINED_MODEL" in none.reason
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "policy.npz").write_bytes(model_file.read_bytes())
    shipped = load_pretrained(api_settings_for(prefix))  # the default file, now that it exists
    assert shipped.name == "tiny test model" and shipped.path == tmp_path / "models" / "policy.npz"
    monkeypatch.setenv("PROSPECTOR_PRETRAINED_MODEL", str(model_file))
    assert api_settings_module.ApiSettings().pretrained_model_path() == model_file
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    broken = load_pretrained(api_settings_for(prefix, pretrained_model=tmp_path / "broken.npz"))
    assert broken.policy is None and "unreadable" in broken.reason
    assert NumpyPolicy.load(model_file).kind == "mlp"


def test_a_suggestion_counts_against_the_clients_step_rate(settings, prefix, model_file):
    api = api_settings_for(prefix, pretrained_model=model_file, steps_per_s=0.01, step_burst=2)
    for client, _ in _stack(settings, api):
        sid = client.post("/api/play/sessions", json={"include_state": False}).json()["session_id"]
        assert client.post(f"/api/play/sessions/{sid}/suggest").status_code == 200
        assert client.post(f"/api/play/sessions/{sid}/suggest").status_code == 200
        refused = client.post(f"/api/play/sessions/{sid}/suggest")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_corrupt_suggest_bytes_are_invalid_argument(served):
    _, stub = served
    with pytest.raises(grpc.RpcError) as err:
        stub.channel.unary_unary(f"/{PLAY_SERVICE}/Suggest")(b"\xff\xff\xff", timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "SuggestRequest" in err.value.details()


def test_a_warm_engine_left_behind_by_another_replica_is_not_trusted(served, settings, prefix, model_file,
                                                                      torch_policy):
    """Suggest reads only the version when this process's warm engine holds the current state; after
    a step on another replica it must read the new state, not suggest for the old one."""
    client, _ = served
    sid = client.post("/api/play/sessions", json={"seed": 21, "include_state": False}).json()["session_id"]
    engine = Engine(seed=21)
    first = client.post(f"/api/play/sessions/{sid}/suggest").json()  # warm here, at t=0
    assert first["action"] == _expected(torch_policy, engine)["argmax"]
    for other, _ in _stack(settings, api_settings_for(prefix, pretrained_model=model_file)):  # another replica
        for action in (6, 11, 6, 8):
            assert other.post(f"/api/play/sessions/{sid}/step", json={"action": action}).status_code == 200
            engine.step(action)
    after = client.post(f"/api/play/sessions/{sid}/suggest").json()
    expected = _expected(torch_policy, engine)
    assert after["action"] == expected["argmax"] and after["value"] == pytest.approx(expected["value"], rel=1e-3,
                                                                                   abs=1e-4)
    assert client.get(f"/api/play/sessions/{sid}", params={"include_state": False}).json()["t"] == engine.t
    metrics = client.get("/metrics").text
    assert 'route="/api/play/sessions/{session_id}/suggest",status="200"' in metrics
