"""The local stack as the tests run it: `prospector up` in a process of its own.

    stack = start_stack(tmp_path, "e2e.toml")     # free ports, its own Redis, SQLite in tmp_path
    stack.wait_for(lambda: len(stack.replays()) >= 3, 120, "3 replays")
    stack.interrupt()                             # SIGINT, like Ctrl-C; returns the exit code

Nothing is mocked: the launcher starts a real redis-server and the real
services' commands from docker-compose.yml, on ports nobody else uses (so
never the shared Redis on 6379).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prospector_common.net import free_ports  # test_launcher.py imports it from here too

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROSPECTOR = str(Path(sys.executable).parent / "prospector")

PORT_VARS = ("PROSPECTOR_API_HTTP_PORT", "PROSPECTOR_API_GRPC_PORT", "PROSPECTOR_TRAINER_GRPC_PORT",
             "PROSPECTOR_TRAINER_METRICS_PORT", "PROSPECTOR_EVALUATOR_GRPC_PORT",
             "PROSPECTOR_EVALUATOR_METRICS_PORT")


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the test's own stack
        return json.loads(response.read())


@dataclass
class RunningStack:
    proc: subprocess.Popen
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.ports['PROSPECTOR_API_HTTP_PORT']}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.ports['PROSPECTOR_API_GRPC_PORT']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def info(self) -> dict[str, Any]:
        """stack.json: what the launcher started (pids, endpoints, Redis URL, stack id)."""
        return json.loads((self.data_dir / "stack.json").read_text())

    def pid(self, service: str) -> int:
        return int(self.info()["children"][service]["pid"])

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prospector up exited ({self.proc.returncode}) while waiting for {what}:\n"
                                     + self.log()[-6000:])
            try:
                value = predicate()
                if value:
                    return value
            except Exception as exc:  # noqa: BLE001 - not there yet
                last_error = exc
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})\n"
                             + self.log()[-6000:])

    def run_id(self) -> str | None:
        runs = get_json(f"{self.http}/api/runs")["items"]
        return runs[0]["run_id"] if runs else None

    def replays(self, tag: str = "every_window") -> list[dict[str, Any]]:
        run_id = self.run_id()
        if run_id is None:
            return []
        return get_json(f"{self.http}/api/runs/{run_id}/replays?tag={tag}&limit=500")["items"]

    def interrupt(self, timeout: float = 90.0) -> int:
        """SIGINT to the launcher (Ctrl-C); its exit code."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("prospector up did not stop within "
                                 f"{timeout:.0f} s of SIGINT:\n{self.log()[-6000:]}") from None


def processes_with_marker(stack_id: str) -> list[int]:
    """Live processes carrying this stack's id in their environment (what the launcher marks)."""
    marker = f"PROSPECTOR_STACK_ID={stack_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[Callable[..., RunningStack]]:
    started: list[RunningStack] = []

    def start(config: str, evaluators: int = 1, extra_env: dict[str, str] | None = None) -> RunningStack:
        data_dir = tmp_path / "runs"
        ports = dict(zip(PORT_VARS, free_ports(len(PORT_VARS)), strict=True))
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update({k: str(v) for k, v in ports.items()})
        # the stack tests watch a fresh run: no pretrained run registered beside it unless asked
        env.update(PROSPECTOR_DATA_DIR=str(data_dir), WANDB_MODE="disabled", PYTHONUNBUFFERED="1",
                   PROSPECTOR_PRETRAINED="skip", **(extra_env or {}))
        log_path = tmp_path / "up.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([PROSPECTOR, "up", "--config", str(HERE / config), "--evaluators",
                                     str(evaluators), "--status-every", "20"], env=env, cwd=str(REPO),
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        stack = RunningStack(proc, data_dir, env, log_path, ports)
        started.append(stack)
        stack.wait_for(lambda: (data_dir / "stack.json").exists(), 60, "stack.json")
        return stack

    yield start
    for stack in started:  # a failed test still must not leave a stack running
        if stack.proc.poll() is None:
            stack.proc.send_signal(signal.SIGINT)
            try:
                stack.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(stack.proc.pid, signal.SIGKILL)
