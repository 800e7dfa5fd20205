"""`prospector api` as a real process: a play session survives a restart (kill -9) of the API,
and `prospector bench api --quick` runs end to end."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import grpc
import httpx
from prospector.engine import Engine
from prospector_bench.api import start_server
from prospector_rpc.pb import pb2, pb2_grpc

from .conftest import REDIS_URL, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "api" / "examples" / "grpc_client.py"


def test_session_continues_on_a_restarted_api_from_the_same_state(recorded, prefix, tmp_path, capsys):
    env = {"PROSPECTOR_DATA_DIR": str(recorded.data_dir), "REDIS_URL": REDIS_URL, "DATABASE_URL": "",
           "PROSPECTOR_API_SESSION_PREFIX": f"{prefix}:play"}
    http_port, grpc_port = free_port(), free_port()
    log = tmp_path / "api.log"
    engine = Engine(seed=123)
    server = start_server(env, http_port, grpc_port, log_path=log)
    try:
        base = f"http://127.0.0.1:{http_port}/api/play/sessions"
        sid = httpx.post(base, json={"seed": 123}).json()["session_id"]
        for action in (8, 0, 6):
            httpx.post(f"{base}/{sid}/step", json={"action": action}).raise_for_status()
            engine.step(action)
    finally:
        server.kill()  # no clean shutdown: whatever the session needs must already be in Redis
        server.wait()
    server = start_server(env, http_port, grpc_port, log_path=log)
    try:
        step = httpx.post(f"{base}/{sid}/step", json={"action": 11}).json()
        engine.step(11)
        assert step["state"] == engine.render_state() and step["t"] == engine.t
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:  # the new process's gRPC too
            transition = pb2_grpc.PlayServiceStub(channel).Step(pb2.StepRequest(session_id=sid, action=6))
        engine.step(6)
        assert json.loads(transition.state_json) == engine.render_state()
        assert httpx.get(f"http://127.0.0.1:{http_port}/readyz").json()["status"] == "ready"
        example = runpy.run_path(str(EXAMPLE))  # the README's client example, against this server
        example["main"](f"127.0.0.1:{grpc_port}")
        printed = capsys.readouterr().out
        assert "done: t" in printed and "after the stream: NOT_FOUND" in printed
    finally:
        server.terminate()
        # SIGTERM: a clean stop (uvicorn re-raises the signal once it has shut down)
        assert server.wait(timeout=15) in (0, -15)
    assert "Traceback" not in log.read_text()


def test_bench_api_quick_reports_every_figure(native_loadgen):
    out = subprocess.run(
        [sys.executable, "-m", "prospector.cli", "bench", "api", "--quick", "--json", "--sessions", "5",
         "--seconds", "0.6", "--ws-clients", "2"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "REDIS_URL": REDIS_URL},
        cwd=Path(__file__).parent)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout)
    assert figures["state_size"]["engine_save_bytes"] == 13_864
    assert figures["workers"] == (os.cpu_count() or 1)  # one API worker per core by default
    for transport in ("http", "grpc", "grpc-stream"):
        latency = figures["latency"][transport]
        assert latency["errors"] == 0 and latency["steps"] > 0 and latency["p99_ms"] > 0
        assert latency["cpu"]["client_s"] > 0 and latency["cpu"]["server_s"] > 0  # who used the cores
        assert figures["saturation"][transport]["max_steps_per_s_zero_errors"] > 0
    # gRPC load comes from the native client (build/grpc_loadgen) by default, HTTP's from Python
    assert figures["grpc_client"] == "native"
    assert [figures["latency"][t]["client"] for t in ("http", "grpc", "grpc-stream")] == ["python", "native", "native"]
    for transport in ("grpc", "grpc-stream"):  # (d): the same load on a server with canned replies
        floor = figures["floor"][transport]
        assert floor["errors"] == 0 and floor["steps"] > 0 and floor["cpu"]["redis_s"] < floor["cpu"]["server_s"]
    unpaced = figures["websocket"]["unpaced"]
    assert unpaced["frames"] > 0 and unpaced["errors"] == 0 and 0 < unpaced["fairness_jain"] <= 1
