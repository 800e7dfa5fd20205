"""The evaluator service: windows in from Redis, replays out.

    evaluator = Evaluator(settings, ServiceConfig(consumer_name="eval-host-123"))
    evaluator.run(stop_event)            # until stop_event is set

The loop, one entry at a time:

    1. on start: create the consumer group `evaluators` (MKSTREAM) if missing,
       then evaluate catalog windows that have no every_window replay and no
       failure (announced while no evaluator ran);
    2. every `claim_every_s`: XAUTOCLAIM entries pending longer than
       `claim_idle_ms` (their consumer died); an entry delivered more than
       `max_deliveries` times is given up on;
    3. XREADGROUP one new entry (blocking up to `block_ms`);
    4. per entry: evaluate the window (evaluate.py: checkpoint, episodes,
       replay files, catalog rows with tags), add each replay to
       `prospector:replays`, log W&B artifacts, and only then XACK;
    5. when nothing came in and `catch_up_every_s` has passed: step 1's catch-up again,
       for windows cataloged at least `catch_up_min_age_s` ago (their announcement never
       arrived: a trainer that gave up on a dead Redis, the pretrained run registered while
       Redis was down).

While evaluating, the consumer re-claims its own entry now and then (XCLAIM
to itself resets the idle time), so a live evaluator on a long window is not
robbed by the others; a dead one stops doing so and loses the entry after
`claim_idle_ms`.

Idempotent per (run_id, window_id): a redelivered entry of a window that has
its every_window replay is only re-announced (exactly once, through the
outbox's send-once script) and acknowledged; a window evaluated twice at the
same time by two consumers produces the same replay ids, and the catalog
keeps one.

Failures: a checkpoint still missing or corrupt after the bounded retries, a
malformed entry, or a window not in the catalog marks the window failed (with
the reason), copies the entry to `prospector:windows:dead` with the reason,
and acknowledges it. Redis down: wait and retry with backoff, never crash.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from prospector_common.catalog import Catalog, ReplayRecord
from prospector_common.outbox import Announcer, Outbox, connect_redis
from prospector_common.settings import Settings
from prospector_common.streams import (
    EVALUATOR_GROUP,
    REPLAYS_STREAM,
    WINDOWS_DEAD,
    WINDOWS_STREAM,
    ReplayAnnouncement,
    WindowAnnouncement,
    dead_letter_fields,
    decode_fields,
)

from .evaluate import CheckpointUnusable, EvalContext, EvalOptions, WindowEvaluation, WindowNotFound, evaluate_window
from .metrics import EvaluatorMetrics
from .wandb_log import WandbReplayLogger

log = logging.getLogger(__name__)

REDIS_ERRORS = (redis.RedisError, OSError)


class StopRequested(Exception):
    """Stopping while an entry's announcements wait for Redis: the entry stays pending (not acked)."""


def default_consumer_name() -> str:
    """host-pid: unique per process, readable in XINFO CONSUMERS."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


@dataclass
class ServiceConfig:
    consumer_name: str = field(default_factory=default_consumer_name)
    options: EvalOptions = field(default_factory=EvalOptions)
    windows_stream: str = WINDOWS_STREAM
    dead_stream: str = WINDOWS_DEAD
    replays_stream: str = REPLAYS_STREAM
    group: str = EVALUATOR_GROUP
    claim_idle_ms: int = 60_000       # a pending entry idle this long belongs to a dead consumer
    claim_every_s: float = 5.0
    block_ms: int = 1_000
    max_deliveries: int = 5           # then the entry is dead-lettered (it keeps killing evaluators)
    window_lookup_attempts: int = 3   # the catalog row may land just after the announcement
    catch_up: bool = True
    # ... and again every catch_up_every_s while idle (0: only on start), for windows cataloged
    # at least catch_up_min_age_s ago whose announcement never came (Redis was down when
    # their trainer gave up announcing; a killed trainer's last window)
    catch_up_every_s: float = 60.0
    catch_up_min_age_s: float = 120.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    exit_when_idle: bool = False      # return once nothing is left to do (tests, one-shot runs)
    wandb: bool = True
    progress: bool = True             # one line per window on stderr
    torch_threads: int = 1            # one env, batch of one: more threads only contend


class Evaluator:
    """One evaluator process's state: Redis, catalog, status, metrics; see the module doc."""

    def __init__(self, settings: Settings, config: ServiceConfig | None = None, *,
                 catalog: Catalog | None = None, metrics: EvaluatorMetrics | None = None):
        self.settings = settings
        self.config = config or ServiceConfig()
        c = self.config
        self.catalog = catalog or Catalog(settings.database_url)
        self._own_catalog = catalog is None
        self.catalog.create_all()
        if c.torch_threads:
            import torch

            torch.set_num_threads(c.torch_threads)
        self.metrics = metrics or EvaluatorMetrics()
        # Blocking reads need a socket timeout longer than the block.
        self.redis = connect_redis(settings.redis_url, timeout_s=c.block_ms / 1000 + 2.0)
        # Replay announcements wait here (in memory) while Redis is down; an
        # entry is acknowledged only once its announcements are out, so a
        # crash loses nothing: the redelivered entry announces again, once.
        self.announcer = Announcer(settings.redis_url, Outbox(":memory:"), timeout_s=2.0)
        self.wandb = WandbReplayLogger(settings.wandb_mode if c.wandb else "disabled", settings.wandb_project,
                                       settings.data_dir, f"evaluator-{c.consumer_name}")
        self._eval_lock = threading.Lock()
        self._last_claim = 0.0
        self._last_catch_up = 0.0
        self._catch_up_failures: dict[tuple[str, int], int] = {}
        self._last_heartbeat = 0.0
        self.status: dict[str, Any] = {
            "consumer_name": c.consumer_name, "state": "starting", "windows_done": 0, "failures": 0,
            "queue_lag": 0, "replays_written": 0, "last_replay_id": "", "started_at": time.time(),
            "current_run_id": "", "current_window": None,
        }
        self.metrics.set_info(c.consumer_name, "starting")

    def close(self) -> None:
        self.wandb.close()
        self.announcer.close()
        self.announcer.outbox.close()
        self.redis.close()
        if self._own_catalog:
            self.catalog.close()

    def _set_state(self, state: str) -> None:
        self.status["state"] = state
        self.metrics.set_info(self.config.consumer_name, state)

    def _progress(self, text: str) -> None:
        if self.config.progress:
            print(f"[evaluator {self.config.consumer_name}] {text}", file=sys.stderr, flush=True)

    # ---- evaluating ----------------------------------------------------------------------

    def _announce(self, record: ReplayRecord) -> None:
        message = ReplayAnnouncement(run_id=record.run_id, window_id=record.window_id,
                                     replay_id=record.replay_id, tags=record.tags)
        self.announcer.announce(self.config.replays_stream, message.msg_id, message.to_fields())

    def evaluate(self, run_id: str, window_id: int, options: EvalOptions | None = None,
                 heartbeat: Callable[[], None] | None = None) -> WindowEvaluation:
        """Evaluate one window now (stream entries, catch-up and the gRPC call all come here)."""
        with self._eval_lock:
            self.status.update(state="evaluating", current_run_id=run_id, current_window=window_id)
            self.metrics.set_info(self.config.consumer_name, "evaluating")
            try:
                ctx = EvalContext(self.settings.data_dir, self.catalog, announce=self._announce,
                                  log_artifact=self.wandb if self.wandb.enabled else None)
                result = evaluate_window(ctx, run_id, window_id, options or self.config.options, heartbeat)
            finally:
                self.status.update(state="idle", current_run_id="", current_window=None)
                self.metrics.set_info(self.config.consumer_name, "idle")
        if not result.already_done:
            self.status["windows_done"] += 1
            self.status["replays_written"] += len(result.new_replay_ids)
            if result.new_replay_ids:
                self.status["last_replay_id"] = result.new_replay_ids[-1]
            self.metrics.window_done(result.seconds, len(result.new_replay_ids), result.frames)
            best = max(result.replays, key=lambda r: r.net_profit, default=None)
            tags = sorted({t for r in result.replays for t in r.tags})
            self._progress(
                f"{run_id}/{window_id}: {len(result.replays)} replays, {result.frames} frames, "
                f"{result.bytes_written / 1024:.0f} KiB, {result.seconds:.2f} s; best net profit "
                f"{best.net_profit if best else float('nan'):.0f}; tags {', '.join(tags) or '-'}")
        else:
            self._progress(f"{run_id}/{window_id}: already evaluated, re-announced")
        return result

    def _evaluate_with_lookup_retries(self, run_id: str, window_id: int,
                                      heartbeat: Callable[[], None] | None) -> WindowEvaluation:
        attempts = self.config.window_lookup_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self.evaluate(run_id, window_id, heartbeat=heartbeat)
            except WindowNotFound:
                if attempt == attempts:
                    raise
                time.sleep(self.config.options.checkpoint_retry_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _wait_announced(self, stop: threading.Event | None) -> None:
        """Flush replay announcements until all are in Redis (backoff while it is down)."""
        delay = self.config.backoff_initial_s
        while True:
            self.announcer.flush()
            if not self.announcer.pending_count():
                return
            if stop is not None and stop.is_set():
                raise StopRequested("stopping with replay announcements not yet sent; the entry stays pending")
            time.sleep(delay)
            delay = min(delay * 2, self.config.backoff_max_s)

    def _fail(self, fields: Mapping[str, str], reason: str, *, run_id: str | None, window_id: int | None,
              attempts: int, source_id: str = "") -> None:
        if run_id is not None and window_id is not None:
            try:
                self.catalog.mark_window_failed(run_id, window_id, reason)
            except Exception as exc:  # noqa: BLE001 - the dead letter still carries the reason
                log.warning("could not mark %s/%s failed: %s", run_id, window_id, exc)
        self.redis.xadd(self.config.dead_stream,
                        dead_letter_fields(fields, reason, attempts=attempts, source_id=source_id))
        self.status["failures"] += 1
        self.metrics.failure()
        self._progress(f"gave up on {run_id}/{window_id}: {reason}")
        log.error("window %s/%s dead-lettered: %s", run_id, window_id, reason)

    # ---- stream entries ----------------------------------------------------------------

    def _heartbeat(self, entry_id: str) -> Callable[[], None]:
        interval = self.config.claim_idle_ms / 1000 / 4

        def beat() -> None:
            now = time.monotonic()
            if now - self._last_heartbeat < interval:
                return
            self._last_heartbeat = now
            try:
                c = self.config
                self.redis.xclaim(c.windows_stream, c.group, c.consumer_name, 0, [entry_id], justid=True)
            except REDIS_ERRORS as exc:  # the entry may be claimed away; the catalog keeps it single
                log.debug("heartbeat for %s failed: %s", entry_id, exc)

        return beat

    def process_entry(self, entry_id: str, raw_fields: Mapping[Any, Any] | None, deliveries: int = 1,
                      stop: threading.Event | None = None) -> str:
        """Handle one stream entry; returns "done", "duplicate", "failed" or "retry" (left pending)."""
        c = self.config
        if raw_fields is None:  # deleted from the stream while pending
            self.redis.xack(c.windows_stream, c.group, entry_id)
            return "failed"
        fields = decode_fields(raw_fields)
        try:
            message = WindowAnnouncement.from_fields(fields)
        except ValueError as exc:
            self._fail(fields, f"malformed window entry: {exc}", run_id=None, window_id=None,
                       attempts=deliveries, source_id=entry_id)
            self.redis.xack(c.windows_stream, c.group, entry_id)
            return "failed"
        run_id, window_id = message.run_id, message.window_id
        if deliveries > c.max_deliveries:
            self._fail(fields, f"delivered {deliveries} times without being completed", run_id=run_id,
                       window_id=window_id, attempts=deliveries, source_id=entry_id)
            self.redis.xack(c.windows_stream, c.group, entry_id)
            return "failed"
        try:
            result = self._evaluate_with_lookup_retries(run_id, window_id, self._heartbeat(entry_id))
        except (CheckpointUnusable, WindowNotFound) as exc:
            self._fail(fields, str(exc), run_id=run_id, window_id=window_id, attempts=deliveries,
                       source_id=entry_id)
            self.redis.xack(c.windows_stream, c.group, entry_id)
            return "failed"
        except redis.RedisError:  # Redis itself (the loop backs off); an OSError here is the disk's
            raise
        except Exception:  # noqa: BLE001 - a bug, a bad episode, a full disk: left pending, retried later
            log.exception("evaluating %s/%s failed; the entry stays pending", run_id, window_id)
            return "retry"
        self._wait_announced(stop)
        self.redis.xack(c.windows_stream, c.group, entry_id)
        return "duplicate" if result.already_done else "done"

    def ensure_group(self) -> None:
        c = self.config
        try:
            self.redis.xgroup_create(c.windows_stream, c.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def catch_up(self, stop: threading.Event | None = None, min_age_s: float = 0.0) -> int:
        """Evaluate catalog windows with no every_window replay and no failure, cataloged at
        least min_age_s ago; returns how many."""
        self._last_catch_up = time.monotonic()
        cutoff = datetime.now(UTC) - timedelta(seconds=min_age_s) if min_age_s > 0 else None
        try:
            windows = self.catalog.windows_without_replay(cataloged_before=cutoff)
        except Exception as exc:  # noqa: BLE001 - a catalog outage must not stop the stream's work
            log.warning("catch-up skipped, the catalog did not answer (%s: %s); the next one tries again",
                        type(exc).__name__, exc)
            return 0
        done = 0
        for window in windows:
            if stop is not None and stop.is_set():
                break
            fields = WindowAnnouncement(run_id=window.run_id, window_id=window.window_id,
                                        env_steps=window.env_steps_total, checkpoint_path=window.checkpoint_path,
                                        metrics=window.metrics).to_fields()
            try:
                self.evaluate(window.run_id, window.window_id)
            except (CheckpointUnusable, WindowNotFound) as exc:
                self._fail(fields, str(exc), run_id=window.run_id, window_id=window.window_id, attempts=1)
                continue
            except redis.RedisError:  # Redis itself (the loop backs off); an OSError here is the disk's
                raise
            except Exception as exc:  # noqa: BLE001
                log.exception("catch-up of %s/%s failed", window.run_id, window.window_id)
                # the periodic catch-up would retry it every minute for ever: as for stream entries,
                # max_deliveries attempts, then the window is given up on (failed, dead-lettered)
                key = (window.run_id, window.window_id)
                self._catch_up_failures[key] = attempts = self._catch_up_failures.get(key, 0) + 1
                if attempts >= self.config.max_deliveries:
                    self._fail(fields, f"catch-up failed {attempts} times: {type(exc).__name__}: {exc}",
                               run_id=window.run_id, window_id=window.window_id, attempts=attempts)
                continue
            self._wait_announced(stop)
            done += 1
        return done

    def claim_stale(self, stop: threading.Event | None = None) -> int:
        """XAUTOCLAIM entries idle longer than claim_idle_ms and process them; returns how many."""
        c = self.config
        self._last_claim = time.monotonic()
        handled, start = 0, "0-0"
        while True:
            reply = self.redis.xautoclaim(c.windows_stream, c.group, c.consumer_name, c.claim_idle_ms,
                                          start_id=start, count=10)
            start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if stop is not None and stop.is_set():
                    return handled
                entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                deliveries = self._deliveries(entry_id)
                log.info("claimed %s (delivery %d) from a consumer that went quiet", entry_id, deliveries)
                self.process_entry(entry_id, fields, deliveries, stop)
                handled += 1
            if start in (b"0-0", "0-0") or not entries:
                return handled

    def _deliveries(self, entry_id: str) -> int:
        c = self.config
        rows = self.redis.xpending_range(c.windows_stream, c.group, min=entry_id, max=entry_id, count=1)
        return int(rows[0]["times_delivered"]) if rows else 1

    def read_new(self, stop: threading.Event | None = None) -> int:
        c = self.config
        reply = self.redis.xreadgroup(c.group, c.consumer_name, {c.windows_stream: ">"}, count=1,
                                      block=c.block_ms)
        handled = 0
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                self.process_entry(entry_id, fields, 1, stop)
                handled += 1
        return handled

    def queue_lag(self) -> int:
        """Entries not yet delivered to the group plus pending ones (XINFO GROUPS)."""
        c = self.config
        for group in self.redis.xinfo_groups(c.windows_stream):
            name = group.get("name")
            name = name.decode() if isinstance(name, bytes) else name
            if name == c.group:
                return int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return 0

    def _update_lag(self) -> int:
        lag = self.queue_lag()
        self.status["queue_lag"] = lag
        self.metrics.queue_lag.set(lag)
        return lag

    # ---- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Serve until `stop` is set (or, with exit_when_idle, until nothing is left)."""
        stop = stop or threading.Event()
        c = self.config
        delay = c.backoff_initial_s
        started = caught_up = False
        self._set_state("starting")
        while not stop.is_set():
            try:
                if not started:
                    self.ensure_group()
                    started = True
                    self._set_state("idle")
                if c.catch_up and not caught_up:
                    n = self.catch_up(stop)
                    caught_up = True
                    if n:
                        self._progress(f"caught up on {n} window(s) announced while no evaluator ran")
                self.announcer.flush()
                handled = 0
                if time.monotonic() - self._last_claim >= c.claim_every_s:
                    handled += self.claim_stale(stop)
                handled += self.read_new(stop)
                if (c.catch_up and c.catch_up_every_s > 0 and handled == 0
                        and time.monotonic() - self._last_catch_up >= c.catch_up_every_s):
                    n = self.catch_up(stop, min_age_s=c.catch_up_min_age_s)
                    handled += n
                    if n:
                        self._progress(f"caught up on {n} window(s) cataloged but never announced")
                lag = self._update_lag()
                if delay != c.backoff_initial_s:
                    self._progress("Redis reachable again")
                delay = c.backoff_initial_s
                if c.exit_when_idle and handled == 0 and lag == 0:
                    break
            except StopRequested as exc:
                log.warning("%s", exc)
                break
            except REDIS_ERRORS as exc:
                if delay == c.backoff_initial_s:
                    self._progress(f"Redis unavailable ({type(exc).__name__}: {exc}); retrying with backoff")
                log.warning("Redis error, retrying in %.1f s: %s", delay, exc)
                stop.wait(delay)
                delay = min(delay * 2, c.backoff_max_s)
        self._set_state("stopped")
