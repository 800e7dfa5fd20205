"""The compose files as a stack file `docker stack deploy` reads (Swarm mode).

    python3 deploy/swarm_stack.py docker-compose.yml docker-compose.swarm.yml > build/swarm-stack.yml
    docker stack deploy -c build/swarm-stack.yml prospector

(`make swarm-deploy` does both.) `--no-ipvs` for an engine whose kernel lacks IPVS (see to_stack;
`make swarm-deploy` adds it when /sys/module/ip_vs is missing). The Docker CLI's stack loader knows the compose file format 3.x,
not the Compose Specification that `docker compose` reads: it refuses `depends_on` with
conditions and the top-level `name`, and ignores `build` and `restart` anyway. So the files are
merged and interpolated by `docker compose config` (Compose's own reading: the same variables,
the same defaults), and what Swarm does not take is taken out:

    name, build, depends_on, restart      (Swarm: deploy.restart_policy; services retry until
                                           Redis and PostgreSQL answer)
    the project prefix of volume names    (the stack adds its own)
    keys without a value (command: null)
    bind.create_host_path                 (not in 3.x; the files it mounts exist)

Everything else (images, commands, environment, health checks, init, ports, volumes, deploy) is
passed as it is, so the stack runs what compose runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DROP_SERVICE_KEYS = ("build", "depends_on", "restart", "container_name", "pull_policy")


def merged(files: list[str]) -> dict[str, Any]:
    argv = ["docker", "compose"]
    for f in files:
        argv += ["-f", f]
    out = subprocess.run([*argv, "config", "--format", "json"], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def to_stack(config: dict[str, Any], no_ipvs: bool = False) -> dict[str, Any]:
    """no_ipvs: for engines whose kernel has no IPVS (`modprobe ip_vs` fails; dockerd says "Native
    loadbalancing will not work"), where a service's virtual IP and the routing mesh do not work:
    every service resolves to its tasks (endpoint_mode dnsrr) and publishes on its task's host
    (ports mode host: one replica of a publishing service per host)."""
    services = {}
    for name, service in config["services"].items():
        service = {k: v for k, v in service.items() if k not in DROP_SERVICE_KEYS and v is not None}
        if no_ipvs:
            service.setdefault("deploy", {})["endpoint_mode"] = "dnsrr"
        for port in service.get("ports", []):
            if isinstance(port.get("published"), str) and port["published"].isdigit():
                port["published"] = int(port["published"])
            port.pop("host_ip", None)
            if no_ipvs:
                port["mode"] = "host"
        if no_ipvs and service.get("ports") and service["deploy"].get("replicas", 1) > 1:
            service["deploy"]["placement"] = {**service["deploy"].get("placement", {}),
                                              "max_replicas_per_node": 1}
        for volume in service.get("volumes", []):
            volume.pop("bind", None)
            if volume.get("volume") == {}:
                volume.pop("volume")
        if service.get("networks") == {"default": None}:
            service.pop("networks")
        services[name] = service
    stack: dict[str, Any] = {"version": "3.9", "services": services}
    volumes = {name: {k: v for k, v in (spec or {}).items() if k != "name"} or None
               for name, spec in (config.get("volumes") or {}).items()}
    if volumes:
        stack["volumes"] = volumes
    return stack


def main(argv: list[str]) -> int:
    no_ipvs = "--no-ipvs" in argv
    files = [a for a in argv if a != "--no-ipvs"] or ["docker-compose.yml", "docker-compose.swarm.yml"]
    # JSON is YAML too: no YAML library needed here, and the stack loader reads it as such.
    json.dump(to_stack(merged(files), no_ipvs), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
