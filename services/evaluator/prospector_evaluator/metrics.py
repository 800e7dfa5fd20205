"""The evaluator's Prometheus metrics, modeled on prospector_trainer.metrics.TrainerMetrics.

All named ``{namespace}_*`` (default prospector_evaluator):

    windows_total            counter    windows evaluated (replays written and cataloged)
    failures_total           counter    windows given up on (dead-lettered)
    replays_total            counter    replay files written
    frames_total             counter    frames recorded into replays
    eval_seconds             histogram  wall time per window evaluation
    queue_lag                gauge      stream entries not yet delivered to the group plus pending ones
    last_window_timestamp_seconds gauge unix time of the last window evaluated
    info                     info       consumer name and state
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prospector_common.prometheus import new_registry

EVAL_SECONDS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640)


class EvaluatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "prospector_evaluator"):
        self.registry = registry if registry is not None else new_registry()
        r, ns = self.registry, namespace
        self.windows = Counter("windows", "Windows evaluated (replays written and cataloged)", namespace=ns,
                               registry=r)
        self.failures = Counter("failures", "Windows given up on (sent to the dead-letter stream)", namespace=ns,
                                registry=r)
        self.replays = Counter("replays", "Replay files written", namespace=ns, registry=r)
        self.frames = Counter("frames", "Frames recorded into replays", namespace=ns, registry=r)
        self.eval_seconds = Histogram("eval_seconds", "Wall time per window evaluation", namespace=ns,
                                      registry=r, buckets=EVAL_SECONDS_BUCKETS)
        self.queue_lag = Gauge("queue_lag", "Entries of the windows stream not yet delivered plus pending",
                               namespace=ns, registry=r)
        self.last_window = Gauge("last_window_timestamp_seconds", "Unix time of the last window evaluated",
                                 namespace=ns, registry=r)
        self.info = Info("evaluator", "This evaluator's consumer name and state", namespace=ns, registry=r)

    def window_done(self, seconds: float, replays: int, frames: int) -> None:
        self.windows.inc()
        self.replays.inc(replays)
        self.frames.inc(frames)
        self.eval_seconds.observe(seconds)
        self.last_window.set(time.time())

    def failure(self) -> None:
        self.failures.inc()

    def set_info(self, consumer_name: str, state: str) -> None:
        self.info.info({"consumer_name": consumer_name, "state": state})
