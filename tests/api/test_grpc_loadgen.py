"""build/grpc_loadgen (bench/loadgen), the native gRPC load generator of `prospector bench api`,
against a real `prospector api` process: both modes, paced and closed loop, step without errors, report
ordered percentiles and close every session they opened; bad arguments and an unreachable server give
the documented exit codes. The binary is built by `make loadgen` (not by `make test`: see the
native_loadgen fixture)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import redis
from prospector_bench.api import start_server, stop_server

from .conftest import LOADGEN, REDIS_URL, free_port


@pytest.fixture(autouse=True)
def _built(native_loadgen: Path) -> None:
    """Every test here runs the binary: skipped (CI: failed) when it is not built."""


def _loadgen(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    assert LOADGEN.is_file(), f"{LOADGEN} is missing: run `make loadgen`"
    return subprocess.run([str(LOADGEN), *args], capture_output=True, text=True, timeout=timeout)


def _live_sessions(client: redis.Redis, index: str) -> int:
    seconds, micros = client.time()
    return client.zcount(index, seconds * 1000 + micros // 1000, "+inf")  # members whose expiry is ahead


@pytest.fixture
def grpc_port(prefix: str, tmp_path: Path):
    data_dir = tmp_path / "runs"
    data_dir.mkdir()
    env = {"PROSPECTOR_DATA_DIR": str(data_dir), "REDIS_URL": REDIS_URL, "DATABASE_URL": "",
           "PROSPECTOR_API_SESSION_PREFIX": f"{prefix}:play"}
    port = free_port()
    server = start_server(env, free_port(), port, log_path=tmp_path / "api.log")
    try:
        yield port
    finally:
        stop_server(server)
    assert "Traceback" not in (tmp_path / "api.log").read_text()


@pytest.mark.parametrize("rate", [20.0, 0.0], ids=["paced", "closed-loop"])
def test_both_modes_step_cleanly_and_close_their_sessions(grpc_port, prefix, redis_client, rate):
    index = f"{prefix}:play:sessions"
    seconds = 1.0 if rate else 0.5
    for mode in ("unary", "stream"):
        out = _loadgen("--target", f"127.0.0.1:{grpc_port}", "--mode", mode, "--sessions", "4", "--rate", f"{rate:g}",
                       "--seconds", f"{seconds:g}", "--sessions-per-channel", "2")
        assert out.returncode == 0, out.stderr[-2000:]
        figures = json.loads(out.stdout)
        assert figures["mode"] == mode and figures["sessions"] == 4 and figures["channels"] == 2
        assert figures["errors"] == 0, figures["error_examples"]
        assert figures["steps"] > 0
        if rate:  # every due step is taken, late or not: sessions x rate x seconds
            assert figures["steps"] == 80
        assert 0 < figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert figures["client_cpu_s"] >= 0 and figures["elapsed_s"] == figures["wall_s"] > 0
        assert figures["achieved_steps_per_s"] == pytest.approx(figures["steps"] / figures["elapsed_s"], rel=0.01)
        assert "loadgen: stepping" in out.stderr and "loadgen: stepped" in out.stderr
        # every session it opened is closed (stream mode: by the server, at the end of each Play stream)
        deadline = time.monotonic() + 5
        while _live_sessions(redis_client, index) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _live_sessions(redis_client, index) == 0
        assert not list(redis_client.scan_iter(f"{prefix}:play:s:*"))


def test_bad_arguments_exit_2_with_a_message():
    out = _loadgen("--target", "127.0.0.1:1", "--mode", "carrier-pigeon")
    assert out.returncode == 2 and "--mode" in out.stderr and out.stdout == ""
    out = _loadgen("--mode", "unary")
    assert out.returncode == 2 and "--target" in out.stderr
    out = _loadgen("--target", "127.0.0.1:1", "--sessions", "0")
    assert out.returncode == 2 and "--sessions" in out.stderr


def test_an_unreachable_server_exits_1():
    out = _loadgen("--target", f"127.0.0.1:{free_port()}", "--sessions", "2", "--seconds", "1", timeout=60)
    assert out.returncode == 1 and "could not be created" in out.stderr and out.stdout == ""
