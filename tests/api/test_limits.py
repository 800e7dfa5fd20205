"""Fair and closed by default: per-client limits (live sessions, new sessions and steps a second)
on both transports, a flood from one address while another still plays, creates that need a
JSON body, and CORS only for the origins listed."""

from __future__ import annotations

import threading
import time

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient
from prospector_api.app import create_app
from prospector_api.grpc_play import PlayServicer
from prospector_api.limits import RateLimit, client_key, grpc_peer_host
from prospector_api.resources import build_resources
from prospector_api.settings import ApiSettings
from prospector_rpc.pb import pb2, pb2_grpc
from prospector_rpc.server import serve_grpc_aio

from .conftest import api_settings_for
from .test_grpc_play import LoopThread
from .test_hardening import _Served


def test_client_keys_and_buckets():
    assert client_key("10.1.2.3") == "10.1.2.3"
    assert client_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key(None) == "unknown" and client_key("testclient") == "testclient"
    assert grpc_peer_host("ipv4:127.0.0.1:5555") == "127.0.0.1" and grpc_peer_host("ipv6:[::1]:5555") == "::1"
    bucket = RateLimit(rate=10.0, burst=3)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take("a")
    assert 0.0 < wait <= 0.1 and bucket.take("b") == 0.0  # another client has its own bucket
    time.sleep(wait + 0.01)
    assert bucket.take("a") == 0.0
    assert RateLimit(rate=0, burst=1).take("a") == 0.0  # 0: no limit
    assert ApiSettings().max_sessions_per_client > 0 and ApiSettings().steps_per_s > 0  # limited by default


def test_a_clients_live_sessions_are_capped_across_replicas(settings, prefix):
    api = api_settings_for(prefix, max_sessions=50, max_sessions_per_client=3, creates_per_s=0)
    with TestClient(create_app(settings, api), client=("10.0.0.1", 1000)) as a1, \
            TestClient(create_app(settings, api), client=("10.0.0.1", 1001)) as a2, \
            TestClient(create_app(settings, api), client=("10.0.0.2", 1000)) as b:
        sids = [a1.post("/api/play/sessions", json={}).json()["session_id"] for _ in range(2)]
        sids.append(a2.post("/api/play/sessions", json={}).json()["session_id"])  # another replica
        for replica in (a1, a2):
            refused = replica.post("/api/play/sessions", json={})
            assert refused.status_code == 429 and "10.0.0.1 has 3 live sessions" in refused.json()["detail"]
            assert int(refused.headers["Retry-After"]) >= 1
        assert b.post("/api/play/sessions", json={}).status_code == 201  # another client is not affected
        assert a2.delete(f"/api/play/sessions/{sids[0]}").status_code == 200  # closing one frees a slot
        assert a1.post("/api/play/sessions", json={}).status_code == 201
        assert a1.post(f"/api/play/sessions/{sids[1]}/step", json={"action": 6}).status_code == 200


def test_a_flood_from_one_address_leaves_another_playing(settings, prefix):
    """Client A (127.0.0.1) floods creates and steps over HTTP and gRPC; client B (127.0.0.2) plays
    all along at a person's pace and is never refused."""
    api = api_settings_for(prefix, max_sessions=10, max_sessions_per_client=3, creates_per_s=2, create_burst=3,
                           steps_per_s=20, step_burst=20)
    resources = build_resources(settings, api)
    loop = LoopThread()
    server = loop.run(serve_grpc_aio([PlayServicer(resources.store, resources.metrics, resources.limits)],
                                     port=0, host="127.0.0.1"))
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    stub = pb2_grpc.PlayServiceStub(channel)
    refusals: dict[str, list] = {"http_create": [], "http_step": [], "grpc_create": [], "grpc_step": []}
    player_statuses: list[int] = []
    stop = threading.Event()
    try:
        with _Served(create_app(resources=resources), api) as served:
            base = f"http://127.0.0.1:{served.port}/api/play/sessions"
            flooder = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"))
            player = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
            own = flooder.post(base, json={"include_state": False}).json()["session_id"]

            def flood() -> None:
                while not stop.is_set():
                    r = flooder.post(base, json={"include_state": False})
                    if r.status_code == 429:
                        refusals["http_create"].append(r)
                    r = flooder.post(f"{base}/{own}/step", json={"action": 6, "include_state": False})
                    if r.status_code == 429:
                        refusals["http_step"].append(r)
                    try:
                        stub.CreateSession(pb2.CreateSessionRequest())
                    except grpc.RpcError as err:
                        refusals["grpc_create"].append(err)
                    try:
                        stub.Step(pb2.StepRequest(session_id=own, action=6))
                    except grpc.RpcError as err:
                        refusals["grpc_step"].append(err)

            flooding = threading.Thread(target=flood, daemon=True)
            flooding.start()
            time.sleep(0.5)  # A has used up its bursts and its 3 sessions by now
            created = player.post(base, json={"seed": 5, "include_state": False})
            player_statuses.append(created.status_code)
            sid = created.json()["session_id"]
            for _ in range(20):  # 10 steps a second, two seconds, while A floods
                player_statuses.append(player.post(f"{base}/{sid}/step",
                                                   json={"action": 6, "include_state": False}).status_code)
                time.sleep(0.1)
            stop.set()
            flooding.join(10)
            flooder.close()
            player.close()
    finally:
        channel.close()
        loop.run(server.stop(grace=1))
        loop.run(resources.store.aclose())
        loop.close()
        resources.close()
    assert player_statuses == [201] + [200] * 20
    for kind in ("http_create", "http_step"):
        assert refusals[kind], kind
        for r in refusals[kind]:
            assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "retry after" in r.json()["detail"]
    assert any("at most 20 a second" in r.json()["detail"] for r in refusals["http_step"])
    for kind in ("grpc_create", "grpc_step"):
        assert refusals[kind], kind
        for err in refusals[kind]:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.details()
            assert int(dict(err.trailing_metadata())["retry-after"]) >= 1
    # A never held more than its 3 sessions, so the cap of 10 always had room for others
    details = [r.json()["detail"] for r in refusals["http_create"]] + [e.details() for e in refusals["grpc_create"]]
    assert not any("the session cap is reached" in d for d in details)


def test_play_streams_count_against_the_same_limits(settings, prefix):
    api = api_settings_for(prefix, steps_per_s=5, step_burst=5)
    resources = build_resources(settings, api)
    loop = LoopThread()
    server = loop.run(serve_grpc_aio([PlayServicer(resources.store, resources.metrics, resources.limits)],
                                     port=0, host="127.0.0.1"))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb2_grpc.PlayServiceStub(channel)
            commands = [pb2.PlayRequest(create=pb2.CreateSessionRequest(seed=1))]
            commands += [pb2.PlayRequest(action=6) for _ in range(20)]
            replies = []
            with pytest.raises(grpc.RpcError) as err:
                replies.extend(stub.Play(iter(commands)))
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "too many steps" in err.value.details()
            assert len(replies) == 1 + 5  # the create, then the burst of 5 steps
    finally:
        loop.run(server.stop(grace=1))
        loop.run(resources.store.aclose())
        loop.close()
        resources.close()


# ---- closed by default: JSON bodies for creates, CORS only when listed ------------------------


def test_creating_a_session_needs_a_json_body(client):
    for body, headers in ((None, {}), (b"{}", {"content-type": "text/plain"}),
                          (b"seed=1", {"content-type": "application/x-www-form-urlencoded"}),
                          (b"{}", {"content-type": "multipart/form-data; boundary=x"})):
        response = client.post("/api/play/sessions", content=body, headers=headers)  # what a "simple" POST sends
        assert response.status_code == 422, (body, headers, response.text)
    assert client.post("/api/play/sessions", json={}).status_code == 201
    operation = client.get("/openapi.json").json()["paths"]["/api/play/sessions"]["post"]
    assert operation["requestBody"]["required"] is True


def test_cors_is_an_allow_list_and_empty_by_default(settings, prefix):
    preflight = {"origin": "https://page.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "content-type"}
    with TestClient(create_app(settings, api_settings_for(prefix))) as closed:
        response = closed.options("/api/play/sessions", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
        response = closed.get("/api/runs", headers={"origin": "https://page.example"})
        assert "access-control-allow-origin" not in response.headers
    api = api_settings_for(prefix, cors_origins=["https://page.example"])
    with TestClient(create_app(settings, api)) as listed:
        response = listed.options("/api/play/sessions", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://page.example"
        response = listed.options("/api/play/sessions", headers={**preflight, "origin": "https://evil.example"})
        assert response.headers.get("access-control-allow-origin") != "https://evil.example"
        response = listed.post("/api/play/sessions", json={}, headers={"origin": "https://page.example"})
        assert response.status_code == 201 and response.headers["access-control-allow-origin"] == "https://page.example"
    with pytest.raises(ValueError, match="scheme://host"):
        ApiSettings(cors_origins=["page.example/path"])
