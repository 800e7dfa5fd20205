"""`prospector api --workers N`: processes sharing both ports (SO_REUSEPORT) and every session,
restarted when one dies, gone when their parent is; reuse-port stays opt-in for gRPC servers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import httpx
import pytest
from prospector.engine import Engine
from prospector_bench.api import _children, _listeners, start_server
from prospector_rpc.pb import pb2, pb2_grpc
from prospector_rpc.server import serve_grpc, serve_grpc_aio

from .conftest import REDIS_URL, free_port


def _wait(condition, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_workers_share_ports_and_sessions_restart_and_stop_with_their_parent(recorded, prefix, tmp_path):
    env = {"PROSPECTOR_DATA_DIR": str(recorded.data_dir), "REDIS_URL": REDIS_URL, "DATABASE_URL": "",
           "PROSPECTOR_API_SESSION_PREFIX": f"{prefix}:play"}
    http_port, grpc_port = free_port(), free_port()
    server = start_server(env, http_port, grpc_port, log_path=tmp_path / "api.log", workers=2)
    try:
        workers = _children(server.pid)
        assert len(workers) == 2 and _listeners(http_port) == 2 and _listeners(grpc_port) == 2
        base = f"http://127.0.0.1:{http_port}/api/play/sessions"
        sid = httpx.post(base, json={"seed": 31, "include_state": False}).json()["session_id"]
        engine = Engine(seed=31)
        for i in range(12):  # a new connection each time: the kernel picks the worker
            if i % 2:
                with grpc.insecure_channel(f"127.0.0.1:{grpc_port}",
                                           options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                    state = json.loads(pb2_grpc.PlayServiceStub(channel).Step(
                        pb2.StepRequest(session_id=sid, action=6)).state_json)
            else:
                state = httpx.post(f"{base}/{sid}/step", json={"action": 6}).json()["state"]
            engine.step(6)
            assert state == engine.render_state()

        os.kill(workers[0], signal.SIGKILL)  # the parent starts another in its place
        _wait(lambda: len(_children(server.pid)) == 2 and workers[0] not in _children(server.pid)
              and _listeners(http_port) == 2 and _listeners(grpc_port) == 2)
        assert httpx.post(f"{base}/{sid}/step", json={"action": 6}).status_code == 200
    finally:
        workers = _children(server.pid)
        server.kill()  # no clean stop: the workers must notice their parent is gone
        server.wait()
    _wait(lambda: _listeners(http_port) == 0 and _listeners(grpc_port) == 0)

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split()[2] != "Z"
        except OSError:
            return False

    # a worker stops as on SIGTERM (its ports close first, then its resources): give it those moments
    _wait(lambda: not any(alive(pid) for pid in workers), 10.0)
    assert not any(os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"
                   for pid in workers)


def test_workers_refuse_a_port_someone_else_listens_on():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        out = subprocess.run([sys.executable, "-m", "prospector.cli", "api", "--host", "127.0.0.1", "--port",
                              str(taken.getsockname()[1]), "--grpc-port", str(free_port()), "--workers", "2"],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "REDIS_URL": REDIS_URL})
    finally:
        taken.close()
    assert out.returncode != 0 and "is taken" in out.stderr


def test_grpc_reuse_port_is_opt_in():
    async def two_sharing() -> tuple[int, int]:
        first = await serve_grpc_aio([], port=0, host="127.0.0.1", reuse_port=True)
        second = await serve_grpc_aio([], port=first.port, host="127.0.0.1", reuse_port=True)
        try:
            return first.port, second.port
        finally:
            await second.stop(None)
            await first.stop(None)

    first, second = asyncio.run(two_sharing())
    assert first == second
    exclusive = serve_grpc([], port=0, host="127.0.0.1")
    try:
        with pytest.raises(RuntimeError, match="cannot bind"):
            serve_grpc([], port=exclusive.port, host="127.0.0.1")
    finally:
        exclusive.stop(None).wait()


def test_metrics_of_every_worker_are_summed_in_one_scrape(recorded, prefix, tmp_path):
    """`--workers 2`: steps taken over new connections land on either worker; every scrape, whichever
    worker answers it, shows them all (prometheus_client's multiprocess mode)."""
    env = {"PROSPECTOR_DATA_DIR": str(recorded.data_dir), "REDIS_URL": REDIS_URL, "DATABASE_URL": "",
           "PROSPECTOR_API_SESSION_PREFIX": f"{prefix}:play"}
    http_port, grpc_port = free_port(), free_port()
    server = start_server(env, http_port, grpc_port, log_path=tmp_path / "api.log", workers=2)
    try:
        base = f"http://127.0.0.1:{http_port}"
        sid = httpx.post(f"{base}/api/play/sessions", json={"include_state": False}).json()["session_id"]
        steps = 30
        for _ in range(steps):  # a new connection each time: the kernel picks the worker
            assert httpx.post(f"{base}/api/play/sessions/{sid}/step",
                              json={"action": 6, "include_state": False}).status_code == 200
        for _ in range(6):
            text = httpx.get(f"{base}/metrics").text
            assert f'prospector_api_play_steps_total{{transport="http"}} {steps}.0' in text, text[:3000]
            created = [line for line in text.splitlines()
                       if line.startswith('prospector_api_http_requests_total{method="POST",route="/api/play/sessions"')]
            assert created and created[0].endswith(" 1.0"), created
    finally:
        server.terminate()
        server.wait(30)
    log = (tmp_path / "api.log").read_text()
    assert "Traceback" not in log
