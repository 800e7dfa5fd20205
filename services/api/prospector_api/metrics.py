"""The API's Prometheus metrics (its own registry, served at /metrics), all named prospector_api_*:

    http_requests_total{method, route, status}       counter    per route template, not per URL
    http_request_duration_seconds{method, route}     histogram  time to the end of the response
    grpc_requests_total{method, code}                counter
    grpc_request_duration_seconds{method}            histogram
    play_steps_total{transport}                      counter    steps taken (http, grpc)
    play_suggestions_total{transport}                counter    suggestions of the pretrained model given
    active_sessions                                  gauge      live play sessions (all replicas; read from Redis)
    ws_clients                                       gauge      open replay WebSockets
    event_clients                                    gauge      open live-event streams

With `prospector api --workers N` the workers count into files under
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode; the parent sets
it, one fresh directory per run) and /metrics, whichever worker answers it, sums
every worker's counters and histograms and the open-connection gauges (live
workers only); active_sessions, read from Redis, is the same for all of them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess
from prospector_common.prometheus import new_registry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory every worker counts into, when this process is one of `--workers N`."""
    return os.environ.get(MULTIPROC_ENV) or None

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "prospector_api") -> None:
        self.registry = registry if registry is not None else new_registry()
        r, ns = self.registry, namespace
        self.requests = Counter("http_requests", "HTTP requests by route template and status",
                                ["method", "route", "status"], namespace=ns, registry=r)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request time by route template",
                                 ["method", "route"], namespace=ns, registry=r, buckets=_BUCKETS)
        self.grpc_requests = Counter("grpc_requests", "gRPC calls by method and status code",
                                     ["method", "code"], namespace=ns, registry=r)
        self.grpc_latency = Histogram("grpc_request_duration_seconds", "gRPC call time by method",
                                      ["method"], namespace=ns, registry=r, buckets=_BUCKETS)
        self.play_steps = Counter("play_steps", "Play steps taken", ["transport"], namespace=ns, registry=r)
        self.play_suggestions = Counter("play_suggestions", "Suggestions of the pretrained model given",
                                        ["transport"], namespace=ns, registry=r)
        # multiprocess_mode is read only in multiprocess mode (--workers N)
        self.active_sessions = Gauge("active_sessions", "Live play sessions (every replica)",
                                     namespace=ns, registry=r, multiprocess_mode="mostrecent")
        self.ws_clients = Gauge("ws_clients", "Open replay WebSocket streams", namespace=ns, registry=r,
                                multiprocess_mode="livesum")
        self.event_clients = Gauge("event_clients", "Open live event streams", namespace=ns, registry=r,
                                   multiprocess_mode="livesum")
        self._children: dict[tuple, Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """metric.labels(*labels), kept: labels() takes a lock and builds a key on every call, and
        a play step counts three times."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, metric.labels(*labels))
        return child

    def http_done(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.requests, method, route, str(status)).inc()
        self._child(self.latency, method, route).observe(seconds)

    def grpc_done(self, method: str, code: str, seconds: float) -> None:
        self._child(self.grpc_requests, method, code).inc()
        self._child(self.grpc_latency, method).observe(seconds)

    def step_taken(self, transport: str) -> None:
        self._child(self.play_steps, transport).inc()

    def suggestion_given(self, transport: str) -> None:
        self._child(self.play_suggestions, transport).inc()

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape: this registry's metrics, or, among `--workers N`,
        every worker's, summed from their files."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request by its route template (/api/runs/{run_id})."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/" if scope.get("path") == "/" else "unmatched")
            method = scope.get("method", "GET")
            self.metrics.http_done(method, template, status["code"], time.perf_counter() - start)
