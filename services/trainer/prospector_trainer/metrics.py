"""The trainer's Prometheus metrics (prospector_trainer_*), fed from its status dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Info

from prospector_common.prometheus import AbsoluteCounter, new_registry


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
            "env_steps": AbsoluteCounter(self.env_steps),
            "episodes": AbsoluteCounter(self.episodes),
            "windows_done": AbsoluteCounter(self.windows),
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
