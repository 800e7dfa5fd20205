"""The window duties: everything done at a window boundary, in order, in one place.

At every window boundary the loop (loop.py) calls, in order:

    write_checkpoint      ckpt_{window_id}.pt, atomically
    append_metrics_row    metrics/windows.jsonl
    RecordInCatalog       the window in the SQL catalog
    LogToWandb            run.log(row, step=env_steps_total) + artifact
    AnnounceWindow        WindowAnnouncement on prospector:windows

The first two (DEFAULT_DUTIES) every run has; the service adds the others.

The order is the guarantee other services build on: an announced window is
already in the catalog, and a cataloged window's checkpoint is on disk.

What may fail, and what happens then:
- the catalog: the exception stops the run (the run is marked failed if the
  catalog still answers). A window that is not in the catalog must not be
  announced, and `--resume` records it later (resume_window).
- W&B: never stops training. The error is logged once and W&B is off for the
  rest of the run; the checkpoints and metrics rows hold everything anyway.
- Redis: never stops training. Each announcement is first committed to the
  run's outbox (RunPaths.outbox_file) and then flushed, in order, exactly
  once (prospector_common.outbox); what Redis does not take now waits for the
  next window, the end of the run or the next `--resume`. At the end of a
  finished or failed run nothing else would send the queue, so the trainer
  waits up to exit_deadline_s for a Redis that went away during the run (a
  restart); an interrupted run (resumed later) and a Redis that never
  answered get one short flush.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from prospector import spec
from prospector_common.catalog import Catalog
from prospector_common.ids import short_git_sha
from prospector_common.outbox import Announcer, Outbox
from prospector_common.policy import checkpoint as ckpt
from prospector_common.settings import Settings
from prospector_common.storage import RunPaths, append_jsonl, read_jsonl
from prospector_common.streams import WINDOWS_STREAM, WindowAnnouncement

from .config import policy_kwargs

if TYPE_CHECKING:
    from .loop import TrainingRun

log = logging.getLogger(__name__)


# ---- the window and the first two duties: checkpoint, metrics row -------------------

@dataclass
class WindowResult:
    """What every duty receives at a window boundary."""

    run_id: str
    window_id: int
    env_steps_total: int
    metrics: dict                 # the window metrics row (episode_stats.ROW_KEYS)
    checkpoint_path: Path         # where write_checkpoint puts this window's checkpoint
    paths: RunPaths
    run: TrainingRun              # config, policy, PuffeRL (optimizer, scheduler)


Duty = Callable[[WindowResult], None]


def write_checkpoint(window: WindowResult) -> None:
    """ckpt_{window_id}.pt, atomically: weights, optimizer, scheduler, config, spec version, steps."""
    r = window.run
    ckpt.save(window.checkpoint_path, {
        "run_id": window.run_id,
        "window_id": window.window_id,
        "env_steps": window.env_steps_total,
        "epoch": r.pufferl.epoch,
        "world_size": r.world.size,
        "spec_version": spec.SPEC_VERSION,
        "config": r.cfg.to_dict(),
        "policy_kwargs": policy_kwargs(r.cfg),
        "policy_state_dict": r.policy.state_dict(),  # unwrapped: loads like a single-process one
        "optimizer_state_dict": r.pufferl.optimizer.state_dict(),
        "scheduler_state_dict": r.pufferl.scheduler.state_dict(),
        "torch_rng_state": torch.get_rng_state(),
        "metrics": window.metrics,
    })
    r.status.update(last_checkpoint_path=window.paths.relative(window.checkpoint_path),
                    last_checkpoint_time=time.time())


def append_metrics_row(window: WindowResult) -> None:
    append_jsonl(window.paths.metrics_file, window.metrics)


DEFAULT_DUTIES: tuple[Duty, ...] = (write_checkpoint, append_metrics_row)


# ---- catalog ---------------------------------------------------------------------------


class RecordInCatalog:
    """The run in the catalog at start (status running), each window at its boundary
    (checkpoint path relative to the data dir), the outcome at the end."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.catalog: Catalog | None = None
        self.run_id: str | None = None

    def __repr__(self) -> str:
        return "record_in_catalog"

    def start(self, run: TrainingRun) -> None:
        self.catalog = Catalog(self.database_url)
        self.catalog.create_all()
        self.run_id = run.run_id
        self.catalog.upsert_run(run.run_id, config=run.cfg.to_dict(), spec_version=spec.SPEC_VERSION,
                                git_sha=short_git_sha(), status="running")

    def __call__(self, window: WindowResult) -> None:
        assert self.catalog is not None, "start(run) first"
        self.catalog.add_window(window.run_id, window.window_id, env_steps_total=window.env_steps_total,
                                checkpoint_path=window.paths.relative(window.checkpoint_path),
                                metrics=window.metrics)

    # add_window is a no-op for a window already recorded
    resume_window = __call__

    def set_wandb_url(self, url: str) -> None:
        if self.catalog is not None and self.run_id is not None:
            self.catalog.set_run_status(self.run_id, "running", wandb_url=url)

    def finish(self, run: TrainingRun, outcome: str) -> None:
        if self.catalog is None:
            return
        try:
            self.catalog.set_run_status(run.run_id, outcome)
        finally:
            self.catalog.close()
            self.catalog = None


# ---- Weights & Biases --------------------------------------------------------------------


def resolve_wandb_mode(config_mode: str, settings: Settings) -> str:
    """The W&B mode of a run: run.wandb_mode if set ("" means the settings' mode, which is
    online with WANDB_API_KEY and offline without); online without a key runs offline."""
    if config_mode == "disabled":
        return "disabled"
    mode = config_mode or settings.wandb_mode or "offline"
    if mode == "online" and settings.wandb_api_key is None:
        log.warning("run.wandb_mode is online but WANDB_API_KEY is not set: W&B runs offline")
        return "offline"
    return mode


def numeric_metrics(row: dict[str, Any]) -> dict[str, float | int]:
    """The row's numbers (run_id and other text left out; NaN kept, W&B shows it as a gap)."""
    return {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class LogToWandb:
    """One W&B run per training run (id = run_id, files under {run_dir}/wandb), each window's
    row logged at step=env_steps_total, each checkpoint as a version of the artifact
    model-{run_id} with alias latest, plus best-profit while its net_profit_mean is the
    best so far. Any W&B error turns W&B off for the rest of the run, with a warning."""

    def __init__(self, mode: str | None, project: str, on_url: Callable[[str], None] | None = None,
                 settings: Settings | None = None) -> None:
        # None: resolved at start from the run's own config (a resumed run's stored one) and settings
        self.mode = mode
        self.settings = settings
        self.project = project
        self.on_url = on_url
        self.wb: Any = None
        self.best_profit = -math.inf
        self.url: str | None = None

    def __repr__(self) -> str:
        return "log_to_wandb"

    def _give_up(self, what: str, exc: BaseException) -> None:
        log.warning("W&B %s failed, W&B is off for the rest of this run: %s: %s", what, type(exc).__name__, exc)
        wb, self.wb = self.wb, None
        if wb is not None:
            try:
                wb.finish(exit_code=1)
            except Exception:  # already broken; nothing more to do
                pass

    def start(self, run: TrainingRun) -> None:
        if self.mode is None:
            self.mode = resolve_wandb_mode(run.cfg.run.wandb_mode, self.settings or Settings())
        if self.mode == "disabled":
            return
        for row in read_jsonl(run.paths.metrics_file):  # a resumed run keeps its best
            profit = row.get("net_profit_mean")
            if isinstance(profit, (int, float)) and math.isfinite(profit):
                self.best_profit = max(self.best_profit, profit)
        try:
            import wandb

            self.wb = wandb.init(
                project=self.project, id=run.run_id, name=run.run_id, dir=str(run.paths.run_dir),
                mode=self.mode, config=run.cfg.to_dict(), resume="allow", job_type="train",
                settings=wandb.Settings(console="off", silent=True, disable_git=True, save_code=False,
                                        x_disable_stats=True, x_save_requirements=False))
            self.url = self.wb.url  # None offline
        except Exception as e:
            self._give_up("init", e)
            return
        if self.url and self.on_url is not None:
            try:
                self.on_url(self.url)
            except Exception:
                log.exception("storing the W&B run URL failed")

    def __call__(self, window: WindowResult) -> None:
        if self.wb is None:
            return
        try:
            import wandb

            self.wb.log(numeric_metrics(window.metrics), step=window.env_steps_total)
            profit = window.metrics.get("net_profit_mean")
            aliases = ["latest", f"window-{window.window_id}"]
            if isinstance(profit, (int, float)) and math.isfinite(profit) and profit > self.best_profit:
                self.best_profit = profit
                aliases.append("best-profit")
            artifact = wandb.Artifact(f"model-{window.run_id}", type="model", metadata={
                "window_id": window.window_id, "env_steps_total": window.env_steps_total,
                "net_profit_mean": profit, "spec_version": spec.SPEC_VERSION})
            # immutable: W&B reads the file in place instead of copying it to a staging
            # dir; checkpoints are never rewritten once their window is done.
            artifact.add_file(str(window.checkpoint_path), name=window.checkpoint_path.name, policy="immutable")
            self.wb.log_artifact(artifact, aliases=aliases)
        except Exception as e:
            self._give_up(f"logging window {window.window_id}", e)

    def finish(self, run: TrainingRun, outcome: str) -> None:
        wb, self.wb = self.wb, None
        if wb is not None:
            try:
                wb.finish(exit_code=0 if outcome == "finished" else 1)
            except Exception as e:
                log.warning("W&B finish failed: %s: %s", type(e).__name__, e)


# ---- Redis announcements -----------------------------------------------------------------


class AnnounceWindow:
    """A WindowAnnouncement per window on `stream`, through the run's durable outbox.

    flush_deadline_s bounds the time a flush may take at a window (a hung Redis costs at
    most that); exit_deadline_s how long the end of the run waits for Redis to take the queue."""

    def __init__(self, redis_url: str, stream: str = WINDOWS_STREAM, *, timeout_s: float = 0.5,
                 flush_deadline_s: float = 2.0, exit_deadline_s: float = 30.0) -> None:
        self.redis_url = redis_url
        self.stream = stream
        self.timeout_s = timeout_s
        self.flush_deadline_s = flush_deadline_s
        self.exit_deadline_s = exit_deadline_s
        self.announcer: Announcer | None = None

    def __repr__(self) -> str:
        return "announce_window"

    def start(self, run: TrainingRun) -> None:
        outbox = Outbox(run.paths.outbox_file)
        self.announcer = Announcer(self.redis_url, outbox, timeout_s=self.timeout_s)
        self._flush(run, self.flush_deadline_s)  # what an earlier attempt of this run left queued

    def _flush(self, run: TrainingRun, deadline_s: float) -> None:
        assert self.announcer is not None
        self.announcer.flush(deadline_s=deadline_s)
        run.status["announcements_pending"] = self.announcer.pending_count()

    def __call__(self, window: WindowResult) -> None:
        assert self.announcer is not None, "start(run) first"
        message = WindowAnnouncement(run_id=window.run_id, window_id=window.window_id,
                                     env_steps=window.env_steps_total,
                                     checkpoint_path=window.paths.relative(window.checkpoint_path),
                                     metrics=window.metrics)
        self.announcer.outbox.append(self.stream, message.msg_id, message.to_fields())
        self._flush(window.run, self.flush_deadline_s)

    # the outbox keeps the first version of a msg_id and Redis refuses a second send
    resume_window = __call__

    def finish(self, run: TrainingRun, outcome: str) -> None:
        announcer, self.announcer = self.announcer, None
        if announcer is None:
            return
        try:
            self.announcer = announcer
            if outcome != "interrupted" and announcer.reached:
                # Nothing flushes this outbox after the run, so wait out a Redis restart: the
                # launcher's or compose's takes seconds, and the last windows would wait forever.
                announcer.drain(self.exit_deadline_s)
                run.status["announcements_pending"] = announcer.pending_count()
            else:  # resumed later (its start flushes), or a Redis that never answered: not restarting
                self._flush(run, self.flush_deadline_s)
            pending = announcer.pending_count()
            if pending:
                log.warning("%d window announcement(s) still queued in %s (Redis: %s); they are sent "
                            "on --resume %s or by any Announcer over that outbox", pending,
                            announcer.outbox.path, announcer.last_error, run.run_id)
        finally:
            self.announcer = None
            announcer.close()
            announcer.outbox.close()
