"""docker-compose.yml against the code: it parses, its images' Dockerfiles exist, every command
is one the CLI accepts, ports and variables are the settings', and `prospector up` runs exactly
the compose commands (so the containers and the local stack cannot drift apart)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml
from prospector import cli
from prospector_common import settings as settings_module
from prospector_common.settings import Settings
from prospector_stack.compose import APP_SERVICES, COMPOSE_FILE, Compose, interpolate, variables_in
from prospector_stack.launcher import Stack, UpOptions, find_prospector

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> Compose:
    return Compose.load()


def settings_env_names() -> dict[str, str]:
    """Environment variable -> Settings field name."""
    names = {}
    for name, info in Settings.model_fields.items():
        for choice in info.validation_alias.choices:
            if choice != name:
                names[choice] = name
    return names


def documented_variables() -> dict[str, str]:
    """The variable tables of settings.py's docstring: name -> first word of its default."""
    rows = re.findall(r"^\| ([A-Z][A-Z0-9_]+)\s+\| (.+?)\s*\|$", settings_module.__doc__, re.M)
    return {name: default.split()[0] for name, default in rows}


def test_compose_file_parses_with_every_service_of_the_stack(compose) -> None:
    assert COMPOSE_FILE == REPO / "docker-compose.yml"
    assert set(compose.services) == {"redis", "postgres", "trainer", "evaluator", "api", "prometheus",
                                     "redis-exporter", "postgres-exporter"}
    # The evaluator scales (`--scale evaluator=N`): no fixed name, no host port to collide on.
    evaluator = compose.service("evaluator")
    assert "container_name" not in evaluator and "ports" not in evaluator


def dockerfile_stages(text: str) -> dict[str, str]:
    """stage name -> its text, for every `FROM ... AS name` of a Dockerfile."""
    parts = re.split(r"^(?=FROM )", text, flags=re.M)
    return {m.group(1): part for part in parts if (m := re.match(r"FROM \S+ AS ([\w-]+)", part))}


def test_one_image_per_service_each_built_once_from_deploy_dockerfile(compose) -> None:
    built = {name: s["build"] for name, s in compose.services.items() if "build" in s}
    assert set(built) == set(APP_SERVICES)
    # Each service its own target and image: nothing is built twice, whatever the scale.
    assert sorted(b["target"] for b in built.values()) == sorted(APP_SERVICES)
    assert {name: b["target"] for name, b in built.items()} == {name: name for name in APP_SERVICES}
    images = [compose.service(name)["image"] for name in APP_SERVICES]
    assert len(set(images)) == len(images)
    dockerfiles = {REPO / b["context"] / b["dockerfile"] for b in built.values()}
    assert dockerfiles == {REPO / "deploy" / "Dockerfile"}
    text = (REPO / "deploy" / "Dockerfile").read_text()
    # BuildKit fetches a `# syntax=` frontend from Docker Hub: nothing here needs one.
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I)
    stages = dockerfile_stages(text)
    assert {"certs", "web", "build", "api", "trainer", "evaluator"} <= set(stages), list(stages)
    assert "npm run build" in stages["web"], "the page is built in its own stage"
    assert "make build/.engine-built protos" in (REPO / "deploy" / "install-parts.sh").read_text(), \
        "the C engine and the protos are built by the Makefile's rules"
    assert "services/web/dist" in stages["api"] and "--from=web" in stages["api"], "the API serves the page"
    for target in APP_SERVICES:  # each image runs as a non-root user
        chain, stage = [], target
        while stage in stages:
            chain.append(stages[stage])
            stage = re.match(r"FROM (\S+)", stages[stage]).group(1)
        users = re.findall(r"^USER (\S+)", "\n".join(reversed(chain)), re.M)
        assert users and users[-1] not in ("root", "0"), (target, users)
    # The home /app belongs to the user (W&B writes there), made before WORKDIR could make it root's.
    runtime = stages["runtime"]
    assert runtime.index("chown prospector:prospector /app") < runtime.index("WORKDIR /app")
    assert "HOME=/app" in runtime
    # Base images are build arguments: the official ones by default.
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert re.search(r"^ARG NODE_IMAGE=node:", text, re.M)


def test_the_context_leaves_out_virtualenvs_and_run_data() -> None:
    # At the root, where every builder (the legacy one too) reads it; a Dockerfile.dockerignore
    # next to the Dockerfile would take precedence with BuildKit and drift from it.
    assert not (REPO / "deploy" / "Dockerfile.dockerignore").exists()
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "runs", "build", "**/node_modules", "services/web/dist"} <= ignored
    assert "models" not in ignored and "deploy" not in ignored
    # Extra CA certificates are a site's own: the folder the build reads is ignored by git.
    gitignore = (REPO / "deploy" / "ca-certificates" / ".gitignore").read_text().split()
    assert "*" in gitignore and not [line for line in gitignore if line.startswith("!") and "crt" in line]


def test_the_api_image_installs_no_torch() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("deploy_requirements", REPO / "deploy" / "requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (REPO / "deploy" / "Dockerfile").read_text()
    stages = dockerfile_stages(text)

    def parts_of(stage: str) -> list[str]:
        line = re.search(r"deploy/requirements\.py ([^>]+)>", stages[stage].replace("\\\n", " ")).group(1)
        return [p.strip("'") for p in line.split()]

    api = module.requirements(parts_of("api-deps"))
    ml = module.requirements(parts_of("ml-deps"))
    names = {re.match(r"[A-Za-z0-9._-]+", r).group(0).lower() for r in api}
    assert not names & {"torch", "pufferlib-core", "wandb"}, names
    assert "pufferlib-core==3.0.23" in ml and "fastapi>=0.110" in api
    assert not [r for r in api + ml if r.lower().startswith("prospector")], "the parts themselves are not requirements"
    assert parts_of("api-deps") == ["bindings", "services/common", "services/rpc[build]", "services/api",
                                    "services/stack"]


def test_every_command_is_a_command_of_the_cli(compose) -> None:
    def parse(argv: list[str]):  # the parser of the command named (the CLI loads only that one)
        return cli.build_parser(argv).parse_args(argv)

    env = {}  # defaults only, as a plain `docker compose up` has them
    for name in APP_SERVICES:
        argv = compose.command(name, env)
        assert argv[0] == "prospector", argv
        args = parse(argv[1:])  # SystemExit (a failed test) on an unknown command or flag
        assert args.command == {"trainer": "train", "evaluator": "evaluate", "api": "api"}[name]
        check = compose.service(name)["healthcheck"]["test"]
        assert check[:2] == ["CMD", "prospector"], check
        assert parse(check[2:]).check == name
    trainer = parse(compose.command("trainer", env)[1:])
    assert trainer.config == "demo" and trainer.progress == "none"


def test_ports_are_the_settings_defaults(compose) -> None:
    s = Settings.model_fields
    default = {name: info.default for name, info in s.items()}
    assert set(map(int, compose.service("trainer")["expose"])) == {default["trainer_grpc_port"],
                                                                   default["trainer_metrics_port"]}
    assert set(map(int, compose.service("evaluator")["expose"])) == {default["evaluator_grpc_port"],
                                                                     default["evaluator_metrics_port"]}
    env_names = settings_env_names()
    published = {}
    for mapping in compose.service("api")["ports"]:
        host, container = mapping.rsplit(":", 1)
        (variable, host_default), = variables_in(host).items()
        published[env_names[variable]] = (int(host_default), int(container))
    assert published == {"api_http_port": (default["api_http_port"],) * 2,
                         "api_grpc_port": (default["api_grpc_port"],) * 2}
    # Prometheus scrapes every service on the settings' ports.
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert {(j, c["names"][0], c["port"]) for j in ("trainer", "evaluator", "api")
            for c in jobs[j]["dns_sd_configs"]} == {
        ("trainer", "trainer", default["trainer_metrics_port"]),
        ("evaluator", "evaluator", default["evaluator_metrics_port"]),
        ("api", "api", default["api_http_port"])}
    mounts = dict(v.split(":")[:2] for v in compose.service("prometheus")["volumes"] if v.startswith("./"))
    assert {(REPO / src).resolve(): dst for src, dst in mounts.items()} == {
        REPO / "deploy" / "prometheus.yml": "/etc/prometheus/prometheus.yml",
        REPO / "deploy" / "prometheus-alerts.yml": "/etc/prometheus/prometheus-alerts.yml"}
    assert prometheus["rule_files"] == ["prometheus-alerts.yml"]  # next to the config, where it is mounted
    # The exporters are scraped on the ports the compose file exposes.
    for job, service in (("redis", "redis-exporter"), ("postgres", "postgres-exporter")):
        (config,) = jobs[job]["dns_sd_configs"]
        assert config["names"] == [service] and [str(config["port"])] == compose.service(service)["expose"]


def test_variables_are_the_documented_ones_with_their_defaults(compose) -> None:
    documented = documented_variables()
    for variable, default in compose.variables().items():
        assert variable in documented, f"{variable} is used by docker-compose.yml but not documented in settings.py"
        if default is not None:
            assert default == documented[variable], f"{variable}: compose default {default}, settings {documented[variable]}"
    env_names = settings_env_names()
    for name in APP_SERVICES:
        for key in compose.environment(name):
            assert key in env_names, f"{name} sets {key}, which Settings does not read"
            assert key in documented
    # Every settings variable is in the docstring table.
    assert set(env_names) <= set(documented)


def test_services_wait_for_healthy_dependencies_and_keep_data_on_named_volumes(compose) -> None:
    for name in APP_SERVICES:
        service = compose.service(name)
        infra = {"redis": {"condition": "service_healthy"}, "postgres": {"condition": "service_healthy"}}
        # the others are created after the trainer, which fills the empty data volume from its image
        after_trainer = {} if name == "trainer" else {"trainer": {"condition": "service_started"}}
        assert service["depends_on"] == {**infra, **after_trainer}
        assert service["init"] is True  # an init forwards SIGTERM: `down` takes seconds
        assert service["volumes"] == ["runs:/data"]
        assert service["environment"]["PROSPECTOR_DATA_DIR"].startswith("/data/")
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
    for name, service in compose.services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    volumes = set(compose.data["volumes"])
    assert {"runs", "redis-data", "postgres-data"} <= volumes
    assert "redis-data:/data" in compose.service("redis")["volumes"]
    assert any(v.startswith("postgres-data:") for v in compose.service("postgres")["volumes"])


def test_local_stack_runs_exactly_the_compose_commands(compose, tmp_path) -> None:
    environ = {"PATH": "/usr/bin:/bin", "PROSPECTOR_TRAIN_CONFIG": "tiny", "PROSPECTOR_DATA_DIR": str(tmp_path)}
    stack = Stack(UpOptions(evaluators=2), environ=environ)
    stack.redis_url = "redis://127.0.0.1:1/0"
    children = stack.build_children()
    assert [c.name for c in children] == ["trainer", "evaluator", "evaluator-2", "api"]
    for child in children:
        service = child.endpoint.kind
        expected = compose.command(service, environ)
        assert child.argv[0] == find_prospector() and Path(child.argv[0]).name == "prospector"
        assert child.argv[1:] == expected[1:], f"{child.name} runs {child.argv}, compose says {expected}"
        assert child.restart == compose.restart_policy(service)
        # Container addresses made local; the evaluators on ports of their own.
        assert child.env["REDIS_URL"] == stack.redis_url and child.env["PROSPECTOR_DATA_DIR"] == str(tmp_path)
        assert "DATABASE_URL" not in child.env  # SQLite in the data root
    assert children[0].argv[children[0].argv.index("--config") + 1] == "tiny"
    ports = [(c.env["PROSPECTOR_EVALUATOR_GRPC_PORT"], c.env["PROSPECTOR_EVALUATOR_METRICS_PORT"])
             for c in children[1:3]]
    assert len(set(ports)) == 2
    if shutil.which("redis-server", path=environ["PATH"]):
        redis = stack.build_redis()
        assert redis.argv[1:len(compose.command("redis", environ))] == compose.command("redis", environ)[1:]
    # A key with a value in the compose environment that the launcher cannot map is an error.
    bad = Compose({**compose.data, "services": {**compose.services, "api": {
        **compose.service("api"), "environment": {**compose.environment("api"), "NEW_THING": "x"}}}})
    stack.compose = bad
    with pytest.raises(ValueError, match="NEW_THING"):
        stack.build_children()


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$SET $SET ${UNSET}", env) \
        == "x d d  d $SET x "
    assert variables_in(["a ${A:-1}", {"b": "${B}"}]) == {"A": "1", "B": None}


def test_the_offline_override_uses_only_images_make_builds(compose) -> None:
    """docker-compose.offline.yml: every image it names is one `make images-offline` builds from
    Debian's mirror (deploy/offline/NAME.Dockerfile), and the service images build on them."""
    offline = yaml.safe_load((REPO / "docker-compose.offline.yml").read_text())
    assert set(offline["services"]) <= set(compose.services)
    makefile = (REPO / "Makefile").read_text()
    bases = re.search(r"^OFFLINE_BASES\s*:=\s*(.+)$", makefile, re.M).group(1).split()
    built = {f"prospector-base/{b}" for b in bases}
    for base in bases:
        assert (REPO / "deploy" / "offline" / f"{base.split(':')[0]}.Dockerfile").is_file(), base
    for name, service in offline["services"].items():
        if "image" in service:
            assert service["image"] in built, (name, service["image"])
        if name in APP_SERVICES:
            args = service["build"]["args"]
            assert {args["PYTHON_IMAGE"], args["NODE_IMAGE"]} <= built
    # Every stock image of the stack has its stand-in.
    stock = {name for name, s in compose.services.items() if "build" not in s}
    assert stock == {name for name, s in offline["services"].items() if "image" in s}
    # Debian's Redis must accept the other containers; the rest of its command is compose's own.
    command = offline["services"]["redis"]["command"]
    assert command[:len(compose.command("redis", {}))] == compose.command("redis", {})
    assert command[-2:] == ["--protected-mode", "no"]


# ---- `prospector status` against a compose stack: one row per replica, live consumers only --------


def test_status_makes_one_row_per_address_of_a_scaled_service(monkeypatch) -> None:
    from prospector_stack import status

    answers = {"evaluator": ["172.18.0.9", "172.18.0.10"], "tasks.api": ["10.0.1.7", "10.0.1.5", "10.0.1.6"],
               "api": ["10.0.1.2"], "trainer": ["172.18.0.4"]}
    asked = []

    def addresses(name):
        asked.append(name)
        return sorted(answers.get(name, []), key=status._address_order)

    monkeypatch.setattr(status, "_addresses", addresses)
    endpoints = [status.Endpoint("trainer", "trainer", "trainer", 50061, 9101),
                 status.Endpoint("evaluator", "evaluator", "evaluator", 50062, 9102),
                 status.Endpoint("api", "api", "api", 50051, 8000),
                 status.Endpoint("local", "api", "127.0.0.1", 50051, 8000)]
    rows = status.replicas(endpoints)
    assert [(e.name, e.kind, e.host, e.grpc_port) for e in rows] == [
        ("trainer", "trainer", "trainer", 50061),             # one address: left as it is
        ("evaluator", "evaluator", "172.18.0.9", 50062),      # compose: one address per container
        ("evaluator-2", "evaluator", "172.18.0.10", 50062),   # (in address order, not DNS order)
        ("api", "api", "10.0.1.5", 50051),                    # a Swarm: tasks.NAME before the VIP
        ("api-2", "api", "10.0.1.6", 50051),
        ("api-3", "api", "10.0.1.7", 50051),
        ("local", "api", "127.0.0.1", 50051)]
    assert "127.0.0.1" not in asked and "tasks.127.0.0.1" not in asked  # addresses are not looked up


def test_status_resolves_names_through_the_resolver() -> None:
    from prospector_stack import status

    assert status._addresses("localhost")  # the real getaddrinfo
    assert status._addresses("no-such-host.invalid") == []


def test_status_counts_live_consumers_apart_from_gone_ones(tmp_path, monkeypatch) -> None:
    """Two evaluators read the windows, then one stops talking to Redis (its container is gone):
    after the claim idle time it is no longer a consumer in the status, but one gone."""
    from private_redis import PrivateRedis
    from prospector_common.streams import EVALUATOR_GROUP, WINDOWS_STREAM
    from prospector_stack import status

    server = PrivateRedis(tmp_path)
    server.start()
    try:
        client = server.client()
        client.xgroup_create(WINDOWS_STREAM, EVALUATOR_GROUP, id="0", mkstream=True)
        for window in range(3):
            client.xadd(WINDOWS_STREAM, {"window_id": str(window)})
        client.xreadgroup(EVALUATOR_GROUP, "gone-1", {WINDOWS_STREAM: ">"}, count=1)
        client.xreadgroup(EVALUATOR_GROUP, "alive-2", {WINDOWS_STREAM: ">"}, count=1)
        monkeypatch.setenv("PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS", "60000")
        lag = status.group_lag(server.url)
        assert (lag["consumers"], lag["consumers_gone"], lag["pending"], lag["undelivered"]) == (2, 0, 2, 1)
        monkeypatch.setenv("PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS", "400")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            client.xreadgroup(EVALUATOR_GROUP, "alive-2", {WINDOWS_STREAM: "0"}, count=1)  # alive-2 keeps talking
            lag = status.group_lag(server.url)
            if lag["consumers_gone"]:
                break
            time.sleep(0.1)
        assert (lag["consumers"], lag["consumers_gone"]) == (1, 1), lag
        assert lag["queue_lag"] == 3  # the gone consumer's window still waits (claimed later)
        row = status.evaluator_row(status.Endpoint("evaluator", "evaluator", "127.0.0.1", 1, 1), lag, timeout=0.2)
        assert row.details["consumers"] == 1 and row.details["consumers_gone"] == 1
        client.close()
    finally:
        server.stop()


# ---- the Swarm: the same files through deploy/swarm_stack.py ----------------------------------------


def test_prometheus_on_a_swarm_scrapes_the_same_jobs_through_tasks_names() -> None:
    compose_config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    swarm_config = yaml.safe_load((REPO / "deploy" / "prometheus-swarm.yml").read_text())
    for job in compose_config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            sd["names"] = [f"tasks.{name}" for name in sd["names"]]
    assert swarm_config == compose_config


def test_the_compose_files_convert_to_a_stack_swarm_accepts(tmp_path) -> None:
    """Needs the docker CLI with Compose v2: `make test` skips it where they are missing, and
    `make test-compose` (which installs them first) runs it and fails rather than skip."""
    import importlib.util
    import subprocess

    if shutil.which("docker") is None or subprocess.run(["docker", "compose", "version"],
                                                        capture_output=True).returncode != 0:
        missing = "needs the docker CLI with Compose v2 (`docker compose`)"
        if os.environ.get("PROSPECTOR_COMPOSE_TESTS"):
            pytest.fail(missing + ", which make test-compose installs")
        pytest.skip(missing + ": `make test-compose` runs it")
    spec = importlib.util.spec_from_file_location("swarm_stack", REPO / "deploy" / "swarm_stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stack = module.to_stack(module.merged(["docker-compose.yml", "docker-compose.swarm.yml"]))
    services = stack["services"]
    assert set(services) == set(Compose.load().services)
    for name, service in services.items():
        assert not {"build", "depends_on", "restart"} & set(service), name
        assert service["healthcheck"], name
    replicas = {name: s["deploy"].get("replicas", 1) for name, s in services.items()}
    assert (replicas["trainer"], replicas["evaluator"], replicas["api"]) == (1, 2, 2)
    for name in APP_SERVICES:
        assert services[name]["image"] == f"127.0.0.1:5000/asteroid-belt-prospector-{name}:latest"
        assert services[name]["init"] is True
    assert services["trainer"]["deploy"]["restart_policy"]["condition"] == "on-failure"
    mounts = {v["target"]: v["source"] for v in services["prometheus"]["volumes"] if v["type"] == "bind"}
    assert mounts["/etc/prometheus/prometheus.yml"] == str(REPO / "deploy" / "prometheus-swarm.yml")
    assert {p["published"] for p in services["api"]["ports"]} == {8000, 50051}
    path = tmp_path / "stack.yml"
    path.write_text(json.dumps(stack))
    check = subprocess.run(["docker", "stack", "config", "-c", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
