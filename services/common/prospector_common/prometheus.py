"""Prometheus plumbing every service shares: one registry per service and its HTTP endpoint.

Each service builds its metrics in its own ``CollectorRegistry`` (never the
global default one, so two services, or a test, in one process do not
collide) and serves it on its own port:

    registry = new_registry()
    metrics = TrainerMetrics(registry)   # each service's own set, in its own package
    server = start_metrics_server(settings.trainer_metrics_port, registry)
    ...
    metrics.update(status)
    ...
    server.stop()

The endpoint answers GET /metrics (any path, in fact) in the Prometheus text
format.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client import gc_collector, platform_collector, process_collector


def new_registry(*, process_metrics: bool = True) -> CollectorRegistry:
    """A fresh registry; with process_metrics, also the process_*, python_gc_* and
    python_info metrics that the default registry carries."""
    registry = CollectorRegistry(auto_describe=True)
    if process_metrics:
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
    return registry


class MetricsServer:
    """The metrics HTTP server of one registry, running in a daemon thread."""

    def __init__(self, httpd: Any, thread: threading.Thread):
        self._httpd = httpd
        self._thread = thread
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def port(self) -> int:
        """The bound port (the real one when asked for port 0)."""
        return int(self._httpd.server_port)

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/metrics"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and free the port; safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_metrics_server(port: int, registry: CollectorRegistry, host: str = "127.0.0.1") -> MetricsServer:
    """Serve registry over HTTP on host:port (0 picks a free port). OSError when the
    port is taken."""
    httpd, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(httpd, thread)


class AbsoluteCounter:
    """A Counter fed with running totals (the trainer reports env_steps, not deltas):
    it adds the increase since the last total; a total that goes down is ignored."""

    def __init__(self, counter: Counter):
        self.counter = counter
        self._last = 0.0
        self._lock = threading.Lock()

    def set_total(self, total: float) -> None:
        total = float(total)
        with self._lock:
            if total > self._last:
                self.counter.inc(total - self._last)
                self._last = total
