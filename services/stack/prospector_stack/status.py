"""`prospector status`: every service's health and vital signs in one table.

    targets = Targets.discover(settings)        # the running `prospector up`, else the settings
    rows = collect(targets)                     # one Row per service process, Redis first
    print_table(rows)                           # or json.dumps([r.to_dict() for r in rows])

What is asked, and how:

    redis      PING; the windows stream's length
    trainer    gRPC health, TrainerService.Status (state, run, window, SPS), /metrics answers
    evaluator  gRPC health, EvaluatorService.Status (state, windows done), /metrics answers,
               and the queue lag of the consumer group (undelivered + pending, from Redis)
    api        /healthz, /readyz (Redis and catalog), gRPC health of the PlayService,
               active play sessions (prospector_api_active_sessions from /metrics)

A service name that resolves to several addresses (compose's `--scale evaluator=N`: Docker's DNS
answers one address per container; a Swarm answers them for `tasks.NAME`) is one row per address:
evaluator, evaluator-2, ... The group's consumer count is of the live consumers: those that talked
to Redis within the claim idle time (PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS, the time after which their
entries are claimed by others); a consumer of an evaluator that is gone stays in the group, and is
counted apart (consumers_gone).

Each probe has a short timeout, so a dead service costs a second, not a hang.
The same probes tell the launcher when a service is up, and serve the
compose health checks (`prospector status --check trainer`).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prospector_common.settings import Settings
from prospector_common.streams import EVALUATOR_GROUP, WINDOWS_STREAM

KINDS = ("trainer", "evaluator", "api")
STACK_FILE = "stack.json"  # in the data root, written by `prospector up` while it runs

HEALTHY, UNHEALTHY, DOWN = "healthy", "unhealthy", "down"


@dataclass
class Endpoint:
    """One service process: its kind and where its gRPC server and HTTP endpoint are.
    http_port is the metrics port of the trainer and evaluators, the HTTP port of the API."""

    name: str
    kind: str
    host: str
    grpc_port: int
    http_port: int

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.http_port}{path}"


@dataclass
class Targets:
    redis_url: str | None
    endpoints: list[Endpoint]
    source: str = "settings"

    @classmethod
    def from_settings(cls, settings: Settings) -> Targets:
        s = settings
        return cls(s.redis_url, [
            Endpoint("trainer", "trainer", s.trainer_host, s.trainer_grpc_port, s.trainer_metrics_port),
            Endpoint("evaluator", "evaluator", s.evaluator_host, s.evaluator_grpc_port, s.evaluator_metrics_port),
            Endpoint("api", "api", s.api_host, s.api_grpc_port, s.api_http_port),
        ])

    @classmethod
    def from_stack_file(cls, path: Path) -> Targets | None:
        """The targets of a running `prospector up` (None when none runs with this data root)."""
        try:
            data = json.loads(path.read_text())
            os.kill(int(data["launcher_pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        endpoints = [Endpoint(**e) for e in data.get("endpoints", [])]
        return cls(data.get("redis_url"), endpoints, source=str(path))

    @classmethod
    def discover(cls, settings: Settings) -> Targets:
        return cls.from_stack_file(settings.data_dir / STACK_FILE) or cls.from_settings(settings)


@dataclass
class Row:
    service: str
    health: str
    address: str
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- probes ------------------------------------------------------------------------------


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """(status, body) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own services
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError):
        return 0, ""


def metric_value(text: str, name: str) -> float | None:
    """The value of an unlabeled sample in Prometheus text format."""
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


def grpc_call(address: str, call, timeout: float = 2.0):
    """call(channel) on a fresh channel to address; the channel is closed after."""
    import grpc

    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        return call(channel)


def grpc_health(address: str, service: str = "", timeout: float = 2.0) -> str:
    """SERVING, NOT_SERVING, ... or DOWN when nothing answers."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    def check(channel):
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                          timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    try:
        return grpc_call(address, check, timeout)
    except (grpc.RpcError, grpc.FutureTimeoutError):
        return "DOWN"


def _status_message(address: str, stub_name: str, timeout: float) -> dict[str, Any] | None:
    import grpc
    from google.protobuf.json_format import MessageToDict
    from prospector_rpc.pb import pb2, pb2_grpc

    def status(channel):
        stub = getattr(pb2_grpc, stub_name)(channel)
        return stub.Status(pb2.StatusRequest(), timeout=timeout)

    try:
        reply = grpc_call(address, status, timeout)
    except (grpc.RpcError, grpc.FutureTimeoutError):
        return None
    return MessageToDict(reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def claim_idle_ms() -> int:
    """When a consumer is taken for gone: the evaluators' claim idle time (compose and `prospector up`
    pass PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS to them as --claim-idle-ms; 60 s by default)."""
    try:
        return max(1, int(os.environ.get("PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS") or 60_000))
    except ValueError:
        return 60_000


def group_lag(redis_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The evaluators group on the windows stream: lag (undelivered), pending, live consumers (those
    that talked to Redis within the claim idle time) and the consumers of evaluators that are gone."""
    from prospector_common.outbox import connect_redis

    client = connect_redis(redis_url, timeout_s=timeout, decode_responses=True)
    try:
        length = client.xlen(WINDOWS_STREAM)
        groups = client.xinfo_groups(WINDOWS_STREAM) if client.exists(WINDOWS_STREAM) else []
        for group in groups:
            if group.get("name") == EVALUATOR_GROUP:
                lag, pending = int(group.get("lag") or 0), int(group.get("pending") or 0)
                consumers = client.xinfo_consumers(WINDOWS_STREAM, EVALUATOR_GROUP)
                live = [c for c in consumers if int(c.get("idle") or 0) < claim_idle_ms()]
                return {"queue_lag": lag + pending, "undelivered": lag, "pending": pending,
                        "consumers": len(live), "consumers_gone": len(consumers) - len(live),
                        "stream_length": length}
        return {"queue_lag": length, "undelivered": length, "pending": 0, "consumers": 0, "consumers_gone": 0,
                "stream_length": length}
    except Exception:  # noqa: BLE001 - Redis down or not speaking streams: no figure
        return None
    finally:
        client.close()


def _addresses(name: str) -> list[str]:
    import socket

    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos}, key=_address_order)


def _address_order(address: str) -> tuple[int, int, str]:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
        return ip.version, int(ip), address
    except ValueError:
        return 9, 0, address


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host == "localhost"


def replicas(endpoints: list[Endpoint], timeout: float = 2.0) -> list[Endpoint]:
    """endpoints with each one whose host name resolves to several addresses made one per address
    (tasks.NAME first: a Swarm's tasks; then NAME: compose's containers). Names that do not resolve,
    or resolve to one address, are left as they are; addresses are never looked up."""
    import threading
    import time

    names = sorted({ep.host for ep in endpoints if not _is_address(ep.host)})
    if not names:
        return endpoints
    found: dict[tuple[str, bool], list[str]] = {}

    def look_up(name: str, tasks: bool) -> None:
        found[(name, tasks)] = _addresses(f"tasks.{name}" if tasks else name)

    # Daemon threads: a resolver that hangs (a name forwarded to a DNS that never answers) costs
    # at most the timeout, and never holds up the exit.
    threads = [threading.Thread(target=look_up, args=(name, tasks), daemon=True)
               for name in names for tasks in (True, False)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    found = dict(found)
    out: list[Endpoint] = []
    for ep in endpoints:
        addresses = found.get((ep.host, True)) or found.get((ep.host, False)) or []
        if len(addresses) <= 1:
            out.append(ep)
            continue
        out += [Endpoint(ep.name if i == 0 else f"{ep.name}-{i + 1}", ep.kind, address, ep.grpc_port, ep.http_port)
                for i, address in enumerate(addresses)]
    return out


# ---- rows --------------------------------------------------------------------------------


def redis_row(redis_url: str | None, timeout: float = 2.0) -> Row:
    from prospector_common.outbox import connect_redis

    if not redis_url:
        return Row("redis", DOWN, "-", problems=["no Redis URL"])
    address = redis_url.split("@")[-1]  # never print a password
    client = connect_redis(redis_url, timeout_s=timeout)
    try:
        client.ping()
        return Row("redis", HEALTHY, address, {"windows_stream": client.xlen(WINDOWS_STREAM)})
    except Exception as exc:  # noqa: BLE001
        return Row("redis", DOWN, address, problems=[f"{type(exc).__name__}: {exc}"])
    finally:
        client.close()


def _process_row(ep: Endpoint, service: str, stub: str, timeout: float) -> tuple[Row, dict[str, Any] | None]:
    row = Row(ep.name, HEALTHY, f"{ep.grpc_address} metrics {ep.http_port}")
    health = grpc_health(ep.grpc_address, service, timeout)
    if health != "SERVING":
        row.problems.append(f"gRPC health {health}")
    code, _ = http_get(ep.url("/metrics"), timeout)
    if code != 200:
        row.problems.append(f"/metrics {code or 'no answer'}")
    status = _status_message(ep.grpc_address, stub, timeout) if health == "SERVING" else None
    if health == "DOWN" and code == 0:
        row.health = DOWN
    elif row.problems:
        row.health = UNHEALTHY
    return row, status


def trainer_row(ep: Endpoint, timeout: float = 2.0) -> Row:
    from prospector_rpc.pb import TRAINER_SERVICE

    row, status = _process_row(ep, TRAINER_SERVICE, "TrainerServiceStub", timeout)
    if status:
        row.details = {"state": status["state"], "run_id": status["run_id"],
                       "window": int(status["current_window"]), "windows_done": int(status["windows_done"]),
                       "sps": round(float(status["sps"])), "env_steps": int(status["env_steps"])}
        if status["state"] == "failed":
            row.health = UNHEALTHY
            row.problems.append(status.get("error") or "run failed")
    return row


def evaluator_row(ep: Endpoint, lag: dict[str, Any] | None, timeout: float = 2.0) -> Row:
    from prospector_rpc.pb import EVALUATOR_SERVICE

    row, status = _process_row(ep, EVALUATOR_SERVICE, "EvaluatorServiceStub", timeout)
    if status:
        row.details = {"state": status["state"], "windows_done": int(status["windows_done"]),
                       "replays": int(status["replays_written"]), "failures": int(status["failures"]),
                       "consumer": status["consumer_name"]}
    if lag is not None:  # the group's figure (every evaluator shares it), fresher than the process's own
        row.details.update(queue_lag=lag["queue_lag"], consumers=lag["consumers"])
        if lag.get("consumers_gone"):
            row.details["consumers_gone"] = lag["consumers_gone"]
    elif status:
        row.details["queue_lag"] = int(status["queue_lag"])
    return row


def api_row(ep: Endpoint, timeout: float = 2.0) -> Row:
    from prospector_rpc.pb import PLAY_SERVICE

    row = Row(ep.name, HEALTHY, f"http://{ep.host}:{ep.http_port} gRPC {ep.grpc_address}")
    code, _ = http_get(ep.url("/healthz"), timeout)
    if code != 200:
        row.problems.append(f"/healthz {code or 'no answer'}")
    health = grpc_health(ep.grpc_address, PLAY_SERVICE, timeout)
    if health != "SERVING":
        row.problems.append(f"gRPC health {health}")
    if code == 0 and health == "DOWN":
        row.health = DOWN
        return row
    ready_code, ready_body = http_get(ep.url("/readyz"), timeout)
    try:
        ready = json.loads(ready_body)
    except ValueError:
        ready = {}
    row.details["ready"] = ready_code == 200
    if ready_code != 200 and ready.get("reasons"):
        row.details["not_ready"] = "; ".join(ready["reasons"])
    metrics_code, metrics = http_get(ep.url("/metrics"), timeout)
    if metrics_code == 200:
        sessions = metric_value(metrics, "prospector_api_active_sessions")
        row.details["sessions"] = None if sessions is None else int(sessions)
    else:
        row.problems.append(f"/metrics {metrics_code or 'no answer'}")
    if row.problems:
        row.health = UNHEALTHY
    return row


def endpoint_row(ep: Endpoint, lag: dict[str, Any] | None = None, timeout: float = 2.0) -> Row:
    if ep.kind == "trainer":
        return trainer_row(ep, timeout)
    if ep.kind == "evaluator":
        return evaluator_row(ep, lag, timeout)
    if ep.kind == "api":
        return api_row(ep, timeout)
    raise ValueError(f"unknown service kind {ep.kind!r}")


def collect(targets: Targets, only: Iterable[str] | None = None, timeout: float = 2.0) -> list[Row]:
    """One row per service process (and Redis first), probed in parallel threads."""
    from concurrent.futures import ThreadPoolExecutor

    only = set(only) if only else None
    endpoints = [ep for ep in targets.endpoints if only is None or ep.kind in only or ep.name in only]
    endpoints = replicas(endpoints, timeout)
    want_redis = only is None or "redis" in only
    need_lag = any(ep.kind == "evaluator" for ep in endpoints) and targets.redis_url
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints) + 2)) as pool:
        lag_future = pool.submit(group_lag, targets.redis_url, timeout) if need_lag else None
        redis_future = pool.submit(redis_row, targets.redis_url, timeout) if want_redis else None
        lag = lag_future.result() if lag_future else None
        futures = [pool.submit(endpoint_row, ep, lag, timeout) for ep in endpoints]
        rows = ([redis_future.result()] if redis_future else []) + [f.result() for f in futures]
    return rows


# ---- output ------------------------------------------------------------------------------

_DETAIL_ORDER = ("state", "window", "windows_done", "sps", "queue_lag", "sessions", "ready", "replays",
                 "failures", "consumers", "consumers_gone", "run_id", "windows_stream", "consumer", "not_ready")


def format_details(details: dict[str, Any]) -> str:
    keys = sorted(details, key=lambda k: _DETAIL_ORDER.index(k) if k in _DETAIL_ORDER else len(_DETAIL_ORDER))
    parts = []
    for k in keys:
        v = details[k]
        if isinstance(v, bool):
            v = "yes" if v else "no"
        elif isinstance(v, int) and k in ("sps", "env_steps"):
            v = f"{v:,}"
        parts.append(f"{k} {v}")
    return "  ".join(parts)


def print_table(rows: list[Row], console=None, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=title, title_justify="left")
    for column in ("service", "health", "address", "details"):
        table.add_column(column, overflow="fold")
    colors = {HEALTHY: "green", UNHEALTHY: "yellow", DOWN: "red"}
    for row in rows:
        details = format_details(row.details)
        if row.problems:
            details = (details + "  " if details else "") + "[red]" + "; ".join(row.problems) + "[/]"
        table.add_row(row.service, f"[{colors.get(row.health, 'white')}]{row.health}[/]", row.address, details)
    console.print(table)
