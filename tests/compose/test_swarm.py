"""The same compose files on a Swarm (`make test-swarm`): a single-node swarm, the images pulled from
a local registry (Debian's docker-registry), two evaluators as replicas, the API replicated behind
the routing mesh, the trainer one task.

    1. the images go into the registry and the stack deploys from it (docker stack deploy);
    2. every service reaches its replicas, every task healthy;
    3. the page and the API answer through the routing mesh (either replica);
    4. `prospector status` inside a task: a row per evaluator and per API replica (tasks.NAME);
    5. windows are evaluated, each once, by the evaluator replicas.

Skipped unless PROSPECTOR_SWARM_TESTS=1 (`make test-swarm` sets it with the compose tests' switch).
An engine that was in no swarm leaves it at the end; the stack and its volumes are removed.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import REPO, free_port, http, wait_for

pytestmark = pytest.mark.skipif(os.environ.get("PROSPECTOR_SWARM_TESTS") != "1",
                                reason="deploys a Swarm stack: `make test-swarm` runs it")

STACK = "prospector-swarm-test"
# No IPVS in the kernel: no virtual IPs and no routing mesh (deploy/swarm_stack.py --no-ipvs), so
# one API replica on this one host; elsewhere two, behind the mesh.
NO_IPVS = not os.path.isdir("/sys/module/ip_vs")
REPLICAS = {"redis": 1, "postgres": 1, "trainer": 1, "evaluator": 2, "api": 1 if NO_IPVS else 2,
            "redis-exporter": 1, "postgres-exporter": 1, "prometheus": 1}


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 900, check: bool = True) -> str:
    proc = subprocess.run(list(argv), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


class Swarm:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.http_port = int(env["PROSPECTOR_API_HTTP_PORT"])
        self.figures: dict[str, Any] = {}

    def services(self) -> dict[str, dict[str, Any]]:
        out = run("docker", "service", "ls", "--filter", f"label=com.docker.stack.namespace={STACK}",
                  "--format", "{{json .}}")
        return {json.loads(line)["Name"].removeprefix(f"{STACK}_"): json.loads(line) for line in out.splitlines()}

    def containers(self, service: str) -> list[str]:
        return run("docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_{service}").split()

    def exec(self, service: str, *argv: str, check: bool = True) -> str:
        return run("docker", "exec", self.containers(service)[0], *argv, check=check)

    def get_json(self, path: str) -> Any:
        status, body, _ = http(f"http://127.0.0.1:{self.http_port}{path}")
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def figure(self, name: str, value: Any) -> None:
        self.figures[name] = value
        print(f"[swarm figures] {name}: {value}")
        path = REPO / "build" / "swarm-figures.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(self.figures, indent=2) + "\n")


@pytest.fixture(scope="module")
def swarm() -> Iterator[Swarm]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PROSPECTOR_OPERATOR_TOKEN", "WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT")}
    env.update(PROSPECTOR_API_HTTP_PORT=str(free_port()), PROSPECTOR_API_GRPC_PORT=str(free_port()),
               PROSPECTOR_PROMETHEUS_PORT=str(free_port()), PROSPECTOR_TRAIN_CONFIG="/etc/prospector/compose.toml",
               PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS="5000")
    env.setdefault("PROSPECTOR_REGISTRY", "127.0.0.1:5000")
    joined = json.loads(run("docker", "info", "--format", "{{json .Swarm.LocalNodeState}}")) == "active"
    s = Swarm(env)
    try:
        start = time.monotonic()
        run("make", "--no-print-directory", "swarm-push", env=env, timeout=1800)
        s.figure("push_s", round(time.monotonic() - start, 1))
        yield s
    finally:
        run("docker", "stack", "rm", STACK, check=False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run(
                "docker", "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={STACK}", check=False).strip():
            time.sleep(1)
        volumes = run("docker", "volume", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}",
                      check=False).split()
        if volumes:
            run("docker", "volume", "rm", *volumes, check=False)
        if not joined:
            run("docker", "swarm", "leave", "--force", check=False)


def test_the_stack_deploys_from_the_registry_and_every_task_is_healthy(swarm: Swarm) -> None:
    files = "docker-compose.yml docker-compose.offline.yml docker-compose.swarm.yml tests/compose/docker-compose.test.yml"
    if NO_IPVS:
        files += " tests/compose/docker-compose.swarm-noipvs.yml"
    swarm.figure("no_ipvs", NO_IPVS)
    start = time.monotonic()
    run("make", "--no-print-directory", "swarm-deploy", f"SWARM_STACK={STACK}", f"SWARM_FILES={files}", env=swarm.env)
    registry = swarm.env["PROSPECTOR_REGISTRY"]
    catalog = json.loads(run("curl", "-fsS", f"http://{registry}/v2/_catalog"))["repositories"]
    assert {"asteroid-belt-prospector-api", "asteroid-belt-prospector-trainer",
            "asteroid-belt-prospector-evaluator"} <= set(catalog), catalog

    def converged():
        services = swarm.services()
        replicas = {name: s["Replicas"] for name, s in services.items()}
        return services if replicas == {name: f"{n}/{n}" for name, n in REPLICAS.items()} else None

    services = wait_for(converged, 600, "every service at its replicas", every=3)
    for name in ("trainer", "evaluator", "api"):  # the service images come from the registry
        assert services[name]["Image"].startswith(f"{registry}/asteroid-belt-prospector-{name}:"), services[name]

    def healthy():
        statuses = run("docker", "ps", "--filter", f"label=com.docker.stack.namespace={STACK}",
                       "--format", "{{.Status}}").splitlines()
        return len(statuses) == sum(REPLICAS.values()) and all("(healthy)" in s for s in statuses)

    wait_for(healthy, 600, "every task healthy", every=3)
    swarm.figure("deploy_to_healthy_s", round(time.monotonic() - start, 1))


def test_the_api_answers_through_the_routing_mesh(swarm: Swarm) -> None:
    # (without IPVS: through the port its one task publishes on this host)
    for _ in range(6):  # the mesh spreads connections over both replicas; each answers
        status, body, _ = http(f"http://127.0.0.1:{swarm.http_port}/healthz")
        assert status == 200, (status, body[:200])
    status, body, _ = http(f"http://127.0.0.1:{swarm.http_port}/")
    assert status == 200 and b"<html" in body.lower()


def test_status_has_a_row_per_task(swarm: Swarm) -> None:
    def rows():
        out = swarm.exec("api", "prospector", "status", "--json", "--timeout", "5", check=False)
        rows = json.loads(out)
        names = [r["service"] for r in rows]
        apis = ["api", "api-2"][:REPLICAS["api"]]
        # Two live consumers: evaluators that crashed while PostgreSQL was starting (Swarm has no
        # depends_on) left theirs in the group, counted apart once idle for the claim time (60 s).
        evaluators = [r for r in rows if r["service"].startswith("evaluator")]
        return rows if names == ["redis", "trainer", "evaluator", "evaluator-2", *apis] \
            and all(r["health"] == "healthy" for r in rows) \
            and all(r["details"].get("consumers") == 2 for r in evaluators) else None

    found = wait_for(rows, 240, "a healthy row per evaluator and per API replica, two live consumers", every=5)
    evaluators = [r for r in found if r["service"].startswith("evaluator")]
    assert len({r["details"]["consumer"] for r in evaluators}) == 2
    swarm.figure("consumers_gone", evaluators[0]["details"].get("consumers_gone", 0))


def test_the_evaluator_replicas_evaluate_each_window_once(swarm: Swarm) -> None:
    def evaluated():
        runs = swarm.get_json("/api/runs")["items"]
        if not runs:
            return None
        run_id = runs[0]["run_id"]
        windows = swarm.get_json(f"/api/runs/{run_id}/metrics/windows?limit=500")["items"]
        done = [w["window_id"] for w in windows if w["eval_status"] == "done"]
        return (run_id, done) if len(done) >= 4 else None

    start = time.monotonic()
    run_id, done = wait_for(evaluated, 600, "four windows evaluated", every=3)
    swarm.figure("to_four_windows_evaluated_s", round(time.monotonic() - start, 1))
    replays = swarm.get_json(f"/api/runs/{run_id}/replays?limit=500")["items"]
    per_window = collections.Counter(r["window_id"] for r in replays if r["window_id"] in done)
    assert per_window == {w: 3 for w in done}, per_window
    rows = json.loads(swarm.exec("api", "prospector", "status", "--json", "--timeout", "5", check=False))
    work = [r["details"].get("windows_done", 0) for r in rows if r["service"].startswith("evaluator")]
    assert sum(work) >= len(done) and all(n >= 1 for n in work), work
