"""The trainer: PuffeRL's PPO over the C engine, one window of env steps at a time.

Read it top to bottom like CleanRL:

    cfg      = load_config("default", ["ppo.learning_rate=1e-3"])
    vecenv   = make_vecenv(cfg)                       # all games in-process, engine threads
    policy   = make_policy("mlp", 128)
    pufferl  = WindowedPuffeRL(puffer_config(cfg), vecenv, policy)
    for window_id in windows:
        while env steps < window end:
            pufferl.evaluate(); episode_log.drain(batches); pufferl.train()
        for duty in duties:                          # in order, at every window boundary
            duty(window)                             # write_checkpoint, append_metrics_row, ...

A duty is any callable taking a WindowResult. This module has two:
write_checkpoint (atomic ckpt_{window_id}.pt) and append_metrics_row
(metrics/windows.jsonl); catalog, W&B and Redis duties are appended after
them by whoever builds the run (train(..., duties=[...])).

Where PuffeRL is wrapped (WindowedPuffeRL) and why:
- its own checkpoints (model_{epoch}.pt every checkpoint_interval epochs and
  at the end, not atomic for the weights) are turned off: the window duty
  writes one atomic checkpoint per window with optimizer, scheduler and step;
- it publishes losses only when it logs (every 0.25 s); the wrapper makes it
  log every epoch so window rows can average the losses of all its epochs;
- its dashboard redraws the whole terminal; the wrapper throttles it and
  shows it only with run.progress = "dashboard".
PuffeRL also clamps rewards to [-1, 1] and drops truncations; the env
compensates (ppo.reward_scale, ppo.truncation_as_terminal; see env.py).
"""

from __future__ import annotations

import json
import math
import platform
import signal
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from prospector import spec

from . import checkpoint as ckpt
from .config import TrainConfig, apply_overrides
from .env import batches, make_vecenv
from .metrics import LOSS_KEYS, EpisodeLog, window_row
from .policy import make_policy, policy_kwargs
from .storage import RunPaths, append_jsonl, atomic_write_json, new_run_id, read_jsonl, validate_run_id


def _import_pufferl():
    # pufferl installs a SIGINT handler that calls os._exit(0) and turns every
    # RuntimeWarning into an error, at import. Keep Python's Ctrl+C (so the
    # trainer can close its env and threads) and the usual warnings.
    previous = signal.getsignal(signal.SIGINT)
    with warnings.catch_warnings():
        import pufferlib.pufferl as pufferl
    try:
        signal.signal(signal.SIGINT, previous)
    except ValueError:  # not the main thread
        pass
    return pufferl


pufferl_module = _import_pufferl()


class WindowedPuffeRL(pufferl_module.PuffeRL):
    """PuffeRL with window-friendly logging and no checkpoints of its own (see module doc)."""

    def __init__(self, config, vecenv, policy, show_dashboard: bool = False):
        self.show_dashboard = show_dashboard
        self._last_draw = 0.0
        self.recent_sps = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "CPU Autocast only supports bfloat16" for float32
            super().__init__(config, vecenv, policy)

    @property
    def sps(self):
        return self.recent_sps

    def train(self):
        self.last_log_time = -math.inf  # log (and publish self.losses) after every epoch
        return super().train()

    def save_checkpoint(self):
        return None

    def print_dashboard(self, clear=False, **kwargs):
        now = time.time()
        if not self.show_dashboard or (not clear and now - self._last_draw < 1.0):
            return
        self._last_draw = now
        super().print_dashboard(clear=clear, **kwargs)

    def close(self):
        self.utilization.stop()
        self.vecenv.close()


def puffer_config(cfg: TrainConfig, data_dir: Path) -> dict:
    """The flat dict PuffeRL reads (pufferl.py's config[...] keys)."""
    o = cfg.ppo
    return dict(
        env="prospector", seed=cfg.run.seed, torch_deterministic=False, device=cfg.run.device,
        cpu_offload=False, use_rnn=cfg.policy.kind == "lstm", compile=o.compile, compile_mode="default",
        compile_fullgraph=False, precision=o.precision, total_timesteps=cfg.run.total_env_steps,
        batch_size=cfg.batch_size, bptt_horizon=o.bptt_horizon, minibatch_size=o.minibatch_size,
        max_minibatch_size=max(o.max_minibatch_size, o.bptt_horizon), update_epochs=o.update_epochs,
        optimizer=o.optimizer, learning_rate=o.learning_rate, adam_beta1=o.adam_beta1, adam_beta2=o.adam_beta2,
        adam_eps=o.adam_eps, anneal_lr=o.anneal_lr, gamma=o.gamma, gae_lambda=o.gae_lambda,
        clip_coef=o.clip_coef, vf_clip_coef=o.vf_clip_coef, vf_coef=o.vf_coef, ent_coef=o.ent_coef,
        max_grad_norm=o.max_grad_norm, prio_alpha=o.prio_alpha, prio_beta0=o.prio_beta0,
        vtrace_rho_clip=o.vtrace_rho_clip, vtrace_c_clip=o.vtrace_c_clip,
        checkpoint_interval=2**62, data_dir=str(data_dir),
    )


# ---- windows and duties ------------------------------------------------------------------

@dataclass
class WindowResult:
    """What every duty receives at a window boundary."""

    run_id: str
    window_id: int
    env_steps_total: int
    metrics: dict                 # the window metrics row (metrics.ROW_KEYS)
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
        "spec_version": spec.SPEC_VERSION,
        "config": r.cfg.to_dict(),
        "policy_kwargs": policy_kwargs(r.cfg),
        "policy_state_dict": r.pufferl.uncompiled_policy.state_dict(),
        "optimizer_state_dict": r.pufferl.optimizer.state_dict(),
        "scheduler_state_dict": r.pufferl.scheduler.state_dict(),
        "torch_rng_state": torch.get_rng_state(),
        "metrics": window.metrics,
    })


def append_metrics_row(window: WindowResult) -> None:
    append_jsonl(window.paths.metrics, window.metrics)


DEFAULT_DUTIES: tuple[Duty, ...] = (write_checkpoint, append_metrics_row)


# ---- the run -------------------------------------------------------------------------------

@dataclass
class TrainingRun:
    cfg: TrainConfig
    paths: RunPaths
    pufferl: WindowedPuffeRL
    start_window: int
    duties: list[Duty]
    episode_log: EpisodeLog = field(default_factory=EpisodeLog)
    windows_done: list[dict] = field(default_factory=list)
    env_seconds: float = 0.0      # evaluate(): env stepping, inference, rollout bookkeeping
    learn_seconds: float = 0.0    # train(): advantages, minibatches, backprop

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def policy(self):
        return self.pufferl.uncompiled_policy

    def epoch(self) -> tuple[int, float]:
        """One PPO epoch (collect a batch, learn from it); returns (episodes finished, their net profit sum)."""
        p = self.pufferl
        t0 = time.perf_counter()
        p.evaluate()
        t1 = time.perf_counter()
        n, sums = self.episode_log.drain(batches(p.vecenv))
        if n:  # shown by PuffeRL's dashboard as user stats
            for name in ("episode_return", "net_profit", "survival", "profit_per_tick"):
                p.stats[name].append(sums[spec.METRIC_INDEX[name]] / n)
        p.train()
        t2 = time.perf_counter()
        self.env_seconds += t1 - t0
        self.learn_seconds += t2 - t1
        p.recent_sps = p.config["batch_size"] / (t2 - t0)
        return n, float(sums[spec.METRIC_INDEX["net_profit"]])

    def run_window(self, window_id: int, progress=None) -> WindowResult:
        p, cfg = self.pufferl, self.cfg
        end = min((window_id + 1) * cfg.run.window_env_steps, cfg.run.total_env_steps)
        start_steps, t0 = p.global_step, time.perf_counter()
        self.episode_log.clear()
        losses: dict[str, list[float]] = {k: [] for k in LOSS_KEYS}
        while p.global_step < end:
            self.epoch()
            for k in LOSS_KEYS:
                if k in p.losses:
                    losses[k].append(float(p.losses[k]))
            if progress:
                progress.update(self, window_id)
        wall = time.perf_counter() - t0
        mean_losses = {k: float(np.mean(v)) for k, v in losses.items() if v}
        row = window_row(self.run_id, window_id, p.global_step, self.episode_log, p.global_step - start_steps,
                         wall, p.optimizer.param_groups[0]["lr"], mean_losses)
        return WindowResult(self.run_id, window_id, p.global_step, row, self.paths.checkpoint(window_id),
                            self.paths, self)

    def run(self, progress=None) -> list[dict]:
        for window_id in range(self.start_window, self.cfg.n_windows):
            window = self.run_window(window_id, progress)
            for duty in self.duties:
                duty(window)
            self.windows_done.append(window.metrics)
            if progress:
                progress.window_done(self, window)
        return self.windows_done

    def close(self) -> None:
        self.pufferl.close()


def start_run(cfg: TrainConfig, run_id: str | None = None, resume: str | None = None,
              duties: list[Duty] | None = None, overrides: list[str] | None = None) -> TrainingRun:
    """Builds everything for a new run, or for `resume` (a run id) from its last checkpoint.

    On resume the run's stored config is used, with `overrides` applied on top
    (e.g. run.total_env_steps=... to train further); `cfg` is ignored then."""
    state = None
    if resume is not None:
        data_dir = TrainConfig.from_dict(apply_overrides(cfg.to_dict(), overrides)).data_dir
        paths = RunPaths(data_dir, validate_run_id(resume))
        state = ckpt.load_latest(paths)          # clear error naming a corrupt / truncated file
        cfg = TrainConfig.from_dict(apply_overrides(state["config"], overrides))
        cfg.run.data_dir = str(paths.data_dir)
        start_window = int(state["window_id"]) + 1
    else:
        paths = RunPaths(cfg.data_dir, validate_run_id(run_id or new_run_id()))
        if paths.root.exists() and any(paths.root.iterdir()):
            raise FileExistsError(f"run {paths.run_id} already exists in {paths.data_dir}; use --resume {paths.run_id}")
        start_window = 0

    torch.set_num_threads(cfg.ppo.torch_threads)
    torch.manual_seed(cfg.run.seed + start_window)
    np.random.seed((cfg.run.seed + start_window) % 2**32)

    paths.make_dirs()
    if state is None:
        atomic_write_json(paths.run_json, run_record(cfg, paths.run_id))
    else:
        _repair_metrics(paths, state)
        record = json.loads(paths.run_json.read_text()) if paths.run_json.exists() else run_record(cfg, paths.run_id)
        record.setdefault("resumes", []).append({
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "from_window": int(state["window_id"]),
            "env_steps": int(state["env_steps"]), "config": cfg.to_dict()})
        atomic_write_json(paths.run_json, record)

    # A resumed run starts its games from other seeds than the run's first start.
    vecenv = make_vecenv(cfg, seed=cfg.run.seed + start_window)
    policy = make_policy(**policy_kwargs(cfg))
    if state is not None:
        policy.load_state_dict(state["policy_state_dict"])
    pufferl = WindowedPuffeRL(puffer_config(cfg, paths.root), vecenv, policy,
                              show_dashboard=cfg.run.progress == "dashboard")
    if state is not None:
        pufferl.optimizer.load_state_dict(state["optimizer_state_dict"])
        pufferl.scheduler.load_state_dict(state["scheduler_state_dict"])
        pufferl.global_step = int(state["env_steps"])
        pufferl.epoch = int(state["epoch"])
    run = TrainingRun(cfg, paths, pufferl, start_window, list(DEFAULT_DUTIES) + list(duties or []))
    run.episode_log.drain(batches(vecenv))  # nothing from before the first epoch
    run.episode_log.clear()
    return run


def _repair_metrics(paths: RunPaths, state: dict) -> None:
    """The checkpoint is written before its metrics row: if the run stopped between
    the two, the row is restored from the copy inside the checkpoint."""
    rows = read_jsonl(paths.metrics)
    if not any(r.get("window_id") == state["window_id"] for r in rows) and state.get("metrics"):
        append_jsonl(paths.metrics, state["metrics"])


def run_record(cfg: TrainConfig, run_id: str) -> dict:
    import pufferlib

    return {
        "run_id": run_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "spec_version": spec.SPEC_VERSION,
        "config": cfg.to_dict(),
        "env_config": cfg.env_config.to_dict(),
        "batch_size": cfg.batch_size,
        "n_windows": cfg.n_windows,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "pufferlib": getattr(pufferlib, "__version__", "?"), "numpy": np.__version__},
        "host": platform.node(),
    }


def train(cfg: TrainConfig, run_id: str | None = None, resume: str | None = None,
          duties: list[Duty] | None = None, overrides: list[str] | None = None, progress=None) -> TrainingRun:
    """Runs every window of a run (new, or resumed) and closes it; returns the finished TrainingRun."""
    run = start_run(cfg, run_id=run_id, resume=resume, duties=duties, overrides=overrides)
    try:
        if progress:
            progress.start(run)
        run.run(progress)
    finally:
        if progress:
            progress.stop()
        run.close()
    return run
