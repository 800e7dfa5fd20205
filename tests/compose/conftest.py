"""`make test-compose`: docker-compose.yml run for real, and what a helper needs to drive it.

Skipped unless PROSPECTOR_COMPOSE_TESTS=1 (the make target sets it): these tests build nothing
themselves (`make images-offline` did) but start a Docker stack of eight containers for minutes.

The stack is a compose project of its own (PROSPECTOR_COMPOSE_PROJECT, default
prospector-compose-test) on free host ports, so it never meets a `make up` or another stack of
this machine; it is removed with its volumes at the end (PROSPECTOR_COMPOSE_KEEP=1 keeps it).
Figures (seconds from `up` to healthy, to the first window and replay, ...) go to
build/compose-figures.json and to the test output.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("PROSPECTOR_COMPOSE_TESTS") == "1"
FILES = ["docker-compose.yml", "docker-compose.offline.yml", "tests/compose/docker-compose.test.yml"]
if os.environ.get("PROSPECTOR_COMPOSE_ONLINE") == "1":  # the official images instead of the Debian-built ones
    FILES.remove("docker-compose.offline.yml")


def pytest_collection_modifyitems(config, items) -> None:
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="starts the stack in Docker: `make test-compose` runs it")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, timeout: float = 5.0) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - the test's own stack
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)
    except (urllib.error.URLError, OSError):
        return 0, b"", {}


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last!r})" if last else ""))


@dataclass
class ComposeStack:
    project: str
    env: dict[str, str]
    http_port: int
    grpc_port: int
    prometheus_port: int
    figures: dict[str, Any] = field(default_factory=dict)

    # ---- the CLI ----
    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        argv = ["docker", "compose", "-p", self.project]
        for f in FILES:
            argv += ["-f", str(REPO / f)]
        argv += list(args)
        proc = subprocess.run(argv, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv[3:])} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc

    def exec(self, service: str, *argv: str, index: int | None = None, check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess:
        where = ["--index", str(index)] if index else []
        return self.compose("exec", "-T", *where, service, *argv, check=check, timeout=timeout)

    def ps(self) -> list[dict[str, Any]]:
        """One dict per container of the project (docker compose ps --format json), stopped ones too."""
        out = self.compose("ps", "--all", "--format", "json").stdout.strip()
        if not out:
            return []
        if out.startswith("["):
            return json.loads(out)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def containers(self, service: str) -> list[dict[str, Any]]:
        return [c for c in self.ps() if c["Service"] == service]

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service, check=False).stdout

    def redis(self, *argv: str) -> str:
        return self.exec("redis", "redis-cli", "--raw", *argv).stdout

    # ---- the stack's own interfaces ----
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def get_json(self, path: str) -> Any:
        status, body, _ = http(self.base + path)
        assert status == 200, f"GET {path}: {status} {body[:300]!r}"
        return json.loads(body)

    def runs(self) -> list[dict[str, Any]]:
        return self.get_json("/api/runs")["items"]

    def windows(self, run_id: str) -> list[dict[str, Any]]:
        return self.get_json(f"/api/runs/{run_id}/metrics/windows?limit=500")["items"]

    def replays(self, run_id: str, tag: str | None = None) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            query = "limit=500" + (f"&tag={tag}" if tag else "") + (f"&cursor={cursor}" if cursor else "")
            page = self.get_json(f"/api/runs/{run_id}/replays?{query}")
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def status(self, service: str = "api") -> list[dict[str, Any]]:
        """`prospector status --json` run inside a container of service."""
        proc = self.exec(service, "prospector", "status", "--json", "--timeout", "5", check=False)
        assert proc.stdout.strip().startswith("["), f"prospector status said: {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
        return json.loads(proc.stdout)

    def figure(self, name: str, value: Any) -> None:
        self.figures[name] = value
        print(f"[compose figures] {name}: {value}")
        path = REPO / "build" / "compose-figures.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(self.figures, indent=2) + "\n")


@pytest.fixture(scope="session")
def stack() -> Iterator[ComposeStack]:
    project = os.environ.get("PROSPECTOR_COMPOSE_PROJECT", "prospector-compose-test")
    # The host's own token and W&B settings would pass through to the containers: not in the test.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PROSPECTOR_OPERATOR_TOKEN", "WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT")}
    env.update(PROSPECTOR_API_HTTP_PORT=str(free_port()), PROSPECTOR_API_GRPC_PORT=str(free_port()),
               PROSPECTOR_PROMETHEUS_PORT=str(free_port()),
               # The documented knobs: the test's trainer config (mounted by docker-compose.test.yml)
               # and a silent evaluator's window claimed after 5 s instead of 60 s.
               PROSPECTOR_TRAIN_CONFIG="/etc/prospector/compose.toml", PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS="5000",
               # one fresh run to follow; the last test brings the pretrained run in (README "Docker")
               PROSPECTOR_PRETRAINED="skip")
    s = ComposeStack(project, env, int(env["PROSPECTOR_API_HTTP_PORT"]), int(env["PROSPECTOR_API_GRPC_PORT"]),
                     int(env["PROSPECTOR_PROMETHEUS_PORT"]))
    s.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")  # what a failed run may have left
    try:
        yield s
    finally:
        if os.environ.get("PROSPECTOR_COMPOSE_KEEP") != "1":
            s.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
