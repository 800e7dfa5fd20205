"""`prospector api --workers N` leaves no Prometheus multiprocess directory behind: not when it
stops, not when its parent is SIGKILLed, and the next start removes those of dead parents."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx
from prospector_api.server import METRICS_DIR_PREFIX, make_metrics_dir, sweep_metrics_dirs
from prospector_bench.api import _children, start_server

from .conftest import REDIS_URL, free_port


def _wait(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _dirs_of(pid: int) -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"{METRICS_DIR_PREFIX}{pid}-*"))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _env(recorded, prefix) -> dict[str, str]:
    return {"PROSPECTOR_DATA_DIR": str(recorded.data_dir), "REDIS_URL": REDIS_URL, "DATABASE_URL": "",
            "PROSPECTOR_API_SESSION_PREFIX": f"{prefix}:play"}


def test_sigkilled_parent_leaves_no_metrics_directory(recorded, prefix, tmp_path):
    http_port, grpc_port = free_port(), free_port()
    server = start_server(_env(recorded, prefix), http_port, grpc_port, log_path=tmp_path / "api.log", workers=2)
    try:
        workers = _children(server.pid)
        dirs = _dirs_of(server.pid)
        assert len(dirs) == 1, dirs
        # the workers count into it: a scrape writes their files
        assert httpx.get(f"http://127.0.0.1:{http_port}/metrics").status_code == 200
        assert glob.glob(os.path.join(dirs[0], "*.db"))
    finally:
        server.send_signal(signal.SIGKILL)  # no clean stop: the parent's own cleanup never runs
        server.wait()
    _wait(lambda: not any(_alive(pid) for pid in workers))
    assert not os.path.exists(dirs[0]), os.listdir(dirs[0])


def test_a_clean_stop_removes_the_directory(recorded, prefix, tmp_path):
    http_port, grpc_port = free_port(), free_port()
    server = start_server(_env(recorded, prefix), http_port, grpc_port, log_path=tmp_path / "api.log", workers=2)
    dirs = _dirs_of(server.pid)
    server.terminate()
    server.wait(30)
    assert len(dirs) == 1 and not os.path.exists(dirs[0])


def test_start_removes_directories_of_parents_that_no_longer_run(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = str(tmp_path)
    stale = os.path.join(base, f"{METRICS_DIR_PREFIX}{dead.pid}-abc")  # unmarked, named by a dead pid
    os.mkdir(stale)
    open(os.path.join(stale, "counter_123.db"), "wb").close()
    mine = make_metrics_dir(base)  # this process runs: kept
    reused = make_metrics_dir(base)  # marked with this pid but another start time: a reused pid, removed
    with open(os.path.join(reused, "owner"), "w") as f:
        f.write(f"{os.getpid()} 1")
    other = os.path.join(base, "prospector-other-thing")
    os.mkdir(other)
    removed = sweep_metrics_dirs(base)
    assert sorted(removed) == sorted([stale, reused])
    assert os.path.isdir(mine) and os.path.isdir(other) and not os.path.exists(stale)
