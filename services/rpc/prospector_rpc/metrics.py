"""Prometheus metrics: one registry per service, its HTTP endpoint, the trainer's set.

Each service builds its metrics in its own ``CollectorRegistry`` (never the
global default one, so two services, or a test, in one process do not
collide) and serves it on its own port:

    registry = new_registry()
    metrics = TrainerMetrics(registry)
    server = start_metrics_server(settings.trainer_metrics_port, registry)
    ...
    metrics.update(status)          # the same dict TrainerServicer reads
    ...
    server.stop()

The endpoint answers GET /metrics (any path, in fact) in the Prometheus text
format.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, start_http_server
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


def start_metrics_server(port: int, registry: CollectorRegistry, host: str = "0.0.0.0") -> MetricsServer:
    """Serve registry over HTTP on host:port (0 picks a free port). OSError when the
    port is taken."""
    httpd, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(httpd, thread)


class _AbsoluteCounter:
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


class TrainerMetrics:
    """The trainer's metrics, all named ``{namespace}_*`` (default prospector_trainer):

        env_steps_total                     counter  env steps taken by the run
        episodes_total                      counter  episodes finished
        windows_total                       counter  windows completed (checkpointed)
        sps                                 gauge    env steps per second, recent
        current_window                      gauge    the window being trained
        last_checkpoint_timestamp_seconds   gauge    unix time of the last checkpoint
        run_info                            info     run_id and state

    ``update(status)`` takes the status dict of TrainerServicer (keys env_steps,
    episodes, windows_done, sps, current_window, last_checkpoint_time, run_id,
    state); missing keys leave their metric as it is. The counters take running
    totals, so a resumed run starts them at its resumed totals.
    """

    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "prospector_trainer"):
        self.registry = registry if registry is not None else new_registry()
        r, ns = self.registry, namespace
        self.env_steps = Counter("env_steps", "Env steps taken by the run", namespace=ns, registry=r)
        self.episodes = Counter("episodes", "Episodes finished by the run", namespace=ns, registry=r)
        self.windows = Counter("windows", "Windows completed (checkpointed) by the run", namespace=ns, registry=r)
        self.sps = Gauge("sps", "Env steps per second (learning included), recent", namespace=ns, registry=r)
        self.current_window = Gauge("current_window", "The window being trained", namespace=ns, registry=r)
        self.last_checkpoint_timestamp = Gauge(
            "last_checkpoint_timestamp_seconds", "Unix time of the last checkpoint written",
            namespace=ns, registry=r)
        self.run_info = Info("run", "The run being trained and its state", namespace=ns, registry=r)
        self._totals = {
            "env_steps": _AbsoluteCounter(self.env_steps),
            "episodes": _AbsoluteCounter(self.episodes),
            "windows_done": _AbsoluteCounter(self.windows),
        }
        self._info = {"run_id": "", "state": ""}
        self._gauges = {
            "sps": self.sps,
            "current_window": self.current_window,
            "last_checkpoint_time": self.last_checkpoint_timestamp,
        }

    def update(self, status: Mapping[str, Any]) -> None:
        """Bring every metric up to date with status (see the class doc)."""
        for key, total in self._totals.items():
            value = status.get(key)
            if value is not None:
                total.set_total(value)
        for key, gauge in self._gauges.items():
            value = status.get(key)
            if value is not None:
                gauge.set(float(value.timestamp() if hasattr(value, "timestamp") else value))
        changed = False
        for key in self._info:
            value = status.get(key)
            if value is not None and str(value) != self._info[key]:
                self._info[key] = str(value)
                changed = True
        if changed:
            self.run_info.info(dict(self._info))
