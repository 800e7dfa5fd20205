"""docker-compose.yml against the code: it parses, its images' Dockerfiles exist, every command
is one the CLI accepts, ports and variables are the settings', and `prospector up` runs exactly
the compose commands (so the containers and the local stack cannot drift apart)."""

from __future__ import annotations

import re
import shutil
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
    assert set(compose.services) == {"redis", "postgres", "trainer", "evaluator", "api", "prometheus"}
    # The evaluator scales (`--scale evaluator=N`): no fixed name, no host port to collide on.
    evaluator = compose.service("evaluator")
    assert "container_name" not in evaluator and "ports" not in evaluator


def test_every_image_is_built_from_a_multi_stage_dockerfile_in_deploy(compose) -> None:
    built = {name: s["build"] for name, s in compose.services.items() if "build" in s}
    assert set(built) == set(APP_SERVICES)
    for name, build in built.items():
        dockerfile = REPO / build["context"] / build["dockerfile"]
        assert dockerfile.is_file() and dockerfile.parent == REPO / "deploy", f"{name}: {dockerfile}"
        text = dockerfile.read_text()
        stages = re.findall(r"^FROM \S+ AS (\w+)", text, re.M)
        assert {"web", "build", "final"} <= set(stages), stages
        assert "npm run build" in text, "the page is built in its own stage"
        assert re.search(r"^RUN make .*build/\.engine-built", text, re.M), "the C engine is built in the image"
        user = re.findall(r"^USER (\S+)", text, re.M)
        assert user and user[-1] not in ("root", "0"), "the image runs as a non-root user"
        assert (dockerfile.parent / "Dockerfile.dockerignore").is_file()


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
    mounted = compose.service("prometheus")["volumes"][0].split(":")[0]
    assert (REPO / mounted).resolve() == REPO / "deploy" / "prometheus.yml"


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
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"},
                                         "postgres": {"condition": "service_healthy"}}
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
