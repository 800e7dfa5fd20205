"""Odd and hostile input, the way a client on a network sends it: non-finite JSON numbers,
oversized WebSocket upgrades, corrupt protobuf bytes, impossible IDs in queries, seeds at the
edge of the one range every transport shares, and Ctrl-C on the running API."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest
import uvicorn
from grpc_health.v1 import health_pb2, health_pb2_grpc
from private_redis import PrivateRedis
from prometheus_client import generate_latest
from prospector_api.app import create_app
from prospector_api.grpc_play import PlayServicer, watch_store_health
from prospector_api.resources import build_resources
from prospector_api.server import MAX_UPGRADE_TARGET, http_config
from prospector_common.settings import Settings
from prospector_rpc.pb import PLAY_SERVICE, pb2, pb2_grpc
from prospector_rpc.server import serve_grpc_aio

from .conftest import REDIS_URL, api_settings_for, free_port


def _create(client, **body):
    response = client.post("/api/play/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


# ---- NaN and infinities in JSON bodies -----------------------------------------------------


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_in_any_body_are_422_saying_so(client, number):
    sid = _create(client)["session_id"]
    bodies = [
        (f"/api/play/sessions/{sid}/step", b'{"action": %s}' % number),
        ("/api/play/sessions", b'{"seed": %s}' % number),
        ("/api/play/sessions", b'{"config": {"time_max": %s}}' % number),
        ("/api/play/sessions", b'{"include_state": %s}' % number),
        (f"/api/play/sessions/{sid}/reset", b'{"seed": %s}' % number),
        (f"/api/play/sessions/{sid}/reset", b'{"config": {"time_max": %s}}' % number),
    ]
    for path, body in bodies:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, body, response.text)
        (error,) = response.json()["detail"]
        assert error["input"] == number.decode() and "not a JSON number" in error["msg"]


# ---- a WebSocket upgrade with an oversized request target ------------------------------------


class _Served:
    """The app under uvicorn with the configuration `prospector api` uses (http_config)."""

    def __init__(self, app, api) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(http_config(app, api, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def _upgrade(port: int, target: str) -> tuple[bytes, bool]:
    """(what the server answered within 2 s, whether it then closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(65536)
                if not chunk:
                    return answer, True
                answer += chunk
            s.settimeout(2)
            while chunk := s.recv(65536):
                answer += chunk
            return answer, True
        except TimeoutError:
            return answer, False


def test_websocket_upgrade_with_a_long_target_gets_414_and_the_socket_closed(settings, api_settings, recorded):
    base = f"/ws/runs/{recorded.run_id}/replays/{recorded.replay_ids[0]}"
    with _Served(create_app(settings, api_settings), api_settings) as served:
        answer, _ = _upgrade(served.port, base + "?fps=30")
        assert answer.startswith(b"HTTP/1.1 101 ")  # an ordinary upgrade still works
        for extra in (MAX_UPGRADE_TARGET, 9000, 70_000, 1_000_000):
            started = time.monotonic()
            answer, closed = _upgrade(served.port, base + "?pad=" + "a" * extra)
            assert answer.startswith(b"HTTP/1.1 414 "), answer[:100]
            assert b"at most 8192 bytes" in answer and closed and time.monotonic() - started < 2


# ---- gRPC: corrupt protobuf bytes, and health that follows the session store -----------------


@pytest.fixture
def grpc_stack(settings, prefix):
    from .test_grpc_play import LoopThread

    resources = build_resources(settings, api_settings_for(prefix))
    loop = LoopThread()
    server = loop.run(serve_grpc_aio([PlayServicer(resources.store, resources.metrics)], port=0, host="127.0.0.1"))
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield channel, resources
    finally:
        channel.close()
        loop.run(server.stop(grace=1))
        loop.run(resources.store.aclose())
        loop.close()
        resources.close()


CORRUPT = b"\xff\xff\xff\xff\x0f\x12"  # a varint that never ends: no message decodes from it


def test_corrupt_protobuf_bytes_are_invalid_argument_with_one_log_line(grpc_stack, caplog):
    channel, resources = grpc_stack
    caplog.set_level(logging.INFO)
    for method in ("CreateSession", "Step", "Reset", "CloseSession", "ListActions"):
        call = channel.unary_unary(f"/{PLAY_SERVICE}/{method}")  # bytes in, bytes out
        caplog.clear()
        with pytest.raises(grpc.RpcError) as err:
            call(CORRUPT, timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, err.value.details())
        assert "is not a valid prospector.v1." in err.value.details()
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1 and lines[0].exc_info is None and "INVALID_ARGUMENT" in lines[0].getMessage()
    stream = channel.stream_stream(f"/{PLAY_SERVICE}/Play")
    caplog.clear()
    good = pb2.PlayRequest(create=pb2.CreateSessionRequest(seed=3)).SerializeToString()
    replies = stream(iter([good, CORRUPT]), timeout=5)
    assert pb2.Transition.FromString(next(replies)).t == 0  # the good command is answered first
    with pytest.raises(grpc.RpcError) as err:
        next(replies)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "PlayRequest" in err.value.details()
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and lines[0].exc_info is None
    # well-formed calls are unchanged
    stub = pb2_grpc.PlayServiceStub(channel)
    sid = stub.CreateSession(pb2.CreateSessionRequest(seed=3)).session_id
    assert stub.Step(pb2.StepRequest(session_id=sid, action=6)).t == 1
    text = generate_latest(resources.metrics.registry).decode()
    assert 'prospector_api_grpc_requests_total{code="INVALID_ARGUMENT",method="Step"} 1.0' in text
    assert 'prospector_api_grpc_requests_total{code="INVALID_ARGUMENT",method="Play"} 1.0' in text


def _health(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return {name: stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
                for name in ("", PLAY_SERVICE)}


def _until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_grpc_health_is_not_serving_while_redis_is_down_or_frozen(recorded, prefix, tmp_path):
    from .test_grpc_play import LoopThread

    own = PrivateRedis(tmp_path)
    own.start()
    settings = Settings(data_dir=recorded.data_dir, redis_url=own.url)
    resources = build_resources(settings, api_settings_for(prefix, redis_timeout_s=0.3))
    loop = LoopThread()
    server = loop.run(serve_grpc_aio([PlayServicer(resources.store, resources.metrics)], port=0, host="127.0.0.1"))

    async def start_watch():
        return asyncio.get_running_loop().create_task(watch_store_health(server, resources.store, 0.1))

    watch = loop.run(start_watch())
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    stub = pb2_grpc.PlayServiceStub(channel)
    try:
        _until(lambda: _health(server.port) == {"": serving, PLAY_SERVICE: serving})
        sid = stub.CreateSession(pb2.CreateSessionRequest(seed=1)).session_id
        own.pause()  # frozen: connections accepted, never answered
        _until(lambda: _health(server.port) == {"": not_serving, PLAY_SERVICE: not_serving})
        with pytest.raises(grpc.RpcError) as err:
            stub.Step(pb2.StepRequest(session_id=sid, action=6), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        own.resume()
        _until(lambda: _health(server.port)[PLAY_SERVICE] == serving)
        assert stub.Step(pb2.StepRequest(session_id=sid, action=6), timeout=5).t == 1
        own.kill()  # down: nothing listens
        _until(lambda: _health(server.port)[PLAY_SERVICE] == not_serving)
        own.start()  # back on the same port (empty: no sessions kept)
        _until(lambda: _health(server.port)[PLAY_SERVICE] == serving)
        assert stub.CreateSession(pb2.CreateSessionRequest(seed=2), timeout=5).seed == 2
    finally:
        channel.close()
        watch.cancel()
        loop.run(server.stop(grace=1))
        loop.run(resources.store.aclose())
        loop.close()
        resources.close()
        own.kill()


# ---- one seed range: HTTP, gRPC, the page and the engine's own seeds ------------------------


def test_one_seed_range_for_http_grpc_and_the_engines_next_seed(settings, prefix, grpc_stack):
    from fastapi.testclient import TestClient

    unlimited = api_settings_for(prefix, creates_per_s=0, max_sessions_per_client=0)  # many creates here
    with TestClient(create_app(settings, unlimited)) as client:
        _seeds_over_http(client)
    _seeds_over_grpc(grpc_stack)


def _seeds_over_http(client) -> None:
    from prospector.engine import Engine, lib
    from prospector_api.sessions import MAX_SEED

    assert MAX_SEED == lib.PR_SEED_MAX == 2**53 - 1  # what JavaScript's Number.isSafeInteger takes
    for seed in (0, 9, 2**53 - 1, 2**53, 2**64 - 1, 123456789):
        assert 0 <= Engine(seed=seed).next_seed <= MAX_SEED
    assert client.post("/api/play/sessions", json={"seed": MAX_SEED}).status_code == 201
    assert client.post("/api/play/sessions", json={"seed": MAX_SEED + 1}).status_code == 422
    sid = _create(client, seed=9)["session_id"]
    for _ in range(20):  # a reset without a seed hands out the engine's next seed: HTTP takes it back
        seed = client.post(f"/api/play/sessions/{sid}/reset", json={}).json()["seed"]
        assert 0 <= seed <= MAX_SEED
        assert client.post("/api/play/sessions", json={"seed": seed}).json()["seed"] == seed
        assert client.post(f"/api/play/sessions/{sid}/reset", json={"seed": seed}).status_code == 200
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("CreateSessionIn", "ResetIn", "SessionOut"):
        seed = schema[model]["properties"]["seed"]
        seed = next((s for s in seed.get("anyOf", [seed]) if s.get("type") == "integer"), seed)
        assert seed["maximum"] == MAX_SEED and seed["minimum"] == 0, model
        assert "2**53-1" in schema[model]["properties"]["seed"]["description"], model


def _seeds_over_grpc(grpc_stack) -> None:
    from prospector_api.sessions import MAX_SEED

    channel, _ = grpc_stack
    stub = pb2_grpc.PlayServiceStub(channel)
    assert stub.CreateSession(pb2.CreateSessionRequest(seed=MAX_SEED)).seed == MAX_SEED
    sid = stub.CreateSession(pb2.CreateSessionRequest(seed=9)).session_id
    for seed in (MAX_SEED + 1, 2**64 - 1):
        with pytest.raises(grpc.RpcError) as err:
            stub.CreateSession(pb2.CreateSessionRequest(seed=seed))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "2**53-1" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            stub.Reset(pb2.ResetRequest(session_id=sid, seed=seed))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert stub.Reset(pb2.ResetRequest(session_id=sid)).seed <= MAX_SEED


# ---- /api/events?run_id=: the schema's pattern and the validator agree ----------------------


def test_events_run_id_of_the_documented_shape_is_never_422(client):
    import re

    operation = client.get("/openapi.json").json()["paths"]["/api/events"]["get"]
    (param,) = [p for p in operation["parameters"] if p["name"] == "run_id"]
    pattern = next(s for s in param["schema"].get("anyOf", [param["schema"]]) if "pattern" in s)["pattern"]
    assert "404" in operation["responses"]
    for impossible in ("20250230-120000-nogit-abcd", "20240931-235959-1a2b3c4-0000"):  # Feb 30, Sep 31
        assert re.fullmatch(pattern, impossible)
        response = client.get("/api/events", params={"run_id": impossible})
        assert response.status_code == 404 and "real date" in response.json()["detail"]
    for malformed in ("2025-01-01", "20250101-120000-NOGIT-abcd", "../etc"):
        assert not re.fullmatch(pattern, malformed)
        assert client.get("/api/events", params={"run_id": malformed}).status_code == 422


# ---- Ctrl-C on the API -----------------------------------------------------------------------


def _api_process(recorded, prefix) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PROSPECTOR_DATA_DIR": str(recorded.data_dir), "REDIS_URL": REDIS_URL, "DATABASE_URL": "",
           "PROSPECTOR_API_SESSION_PREFIX": f"{prefix}:play", "PYTHONUNBUFFERED": "1"}
    http_port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "prospector.cli", "api", "--host", "127.0.0.1", "--port",
                                str(http_port), "--grpc-port", str(free_port())], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)  # as `prospector up` starts it
    return process, http_port


def _stopped_cleanly(process: subprocess.Popen, within_s: float) -> str:
    started = time.monotonic()
    out = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, out
    assert time.monotonic() - started < within_s, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out and "CancelledError" not in out, out
    return out


def test_ctrl_c_stops_the_api_without_a_traceback_even_with_live_streams_open(recorded, prefix):
    import httpx

    process, http_port = _api_process(recorded, prefix)
    try:
        def up() -> bool:
            if process.poll() is not None:
                pytest.fail(process.communicate()[0].decode())
            try:
                return httpx.get(f"http://127.0.0.1:{http_port}/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        _until(up, 60)
        ended = threading.Event()

        def listen() -> None:  # a page with live events open, as the web page keeps one
            with httpx.stream("GET", f"http://127.0.0.1:{http_port}/api/events", timeout=30) as response:
                for _ in response.iter_lines():
                    pass
            ended.set()

        threading.Thread(target=listen, daemon=True).start()
        _until(lambda: "prospector_api_event_clients 1.0"
               in httpx.get(f"http://127.0.0.1:{http_port}/metrics").text)
        process.send_signal(signal.SIGINT)
        out = _stopped_cleanly(process, within_s=4.0)  # the stream ends at once, not after uvicorn's 5 s grace
        assert ended.wait(5) and "API stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_while_the_api_starts_stops_it_without_a_traceback(recorded, prefix):
    process, _ = _api_process(recorded, prefix)
    try:
        first = process.stdout.readline()  # the process is up and logging: it is starting its server
        assert first, "the API printed nothing"
        process.send_signal(signal.SIGINT)
        _stopped_cleanly(process, within_s=15.0)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
