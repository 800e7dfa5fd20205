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

A duty is any callable taking a WindowResult; duties.py holds them all:
write_checkpoint (atomic ckpt_{window_id}.pt) and append_metrics_row
(metrics/windows.jsonl) for every run, then the catalog, W&B and Redis duties
that whoever builds the run appends (train(..., duties=[...]), service.py).
A duty may also have these methods, all optional:

    start(run)                 before the first window (open connections, record the run)
    resume_window(window)      on --resume, for the run's last checkpointed window: redo the
                               idempotent duties a crash may have cut short after its checkpoint
    finish(run, outcome)       at the end, outcome "finished" | "failed" | "interrupted"; every
                               duty's finish runs even if another one raises

The loop also keeps `run.status` up to date (TrainerStatus fields of
protos/prospector.proto: env_steps, sps, current_window, windows_done,
episodes, last_checkpoint_path/time, state, error) and calls each of
`run.status_listeners` with it after every epoch and window; the gRPC
TrainerService and the Prometheus metrics read it (service.py).

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

Under torchrun (distributed.py) every rank runs this same loop over its own env
and a DDP-wrapped policy; only rank 0 writes the run's files and has duties.
`run.env_steps` counts the steps of all ranks, and window rows sum the
episodes of all ranks.
"""

from __future__ import annotations

import json
import logging
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
from prospector_common.ids import new_run_id, validate_run_id
from prospector_common.policy import checkpoint as ckpt
from prospector_common.policy.network import make_policy
from prospector_common.storage import RunPaths, append_jsonl, atomic_write_json, read_jsonl, remove_temp_files

from . import distributed
from .config import TrainConfig, apply_overrides, policy_kwargs
from .duties import DEFAULT_DUTIES, Duty, WindowResult
from .env import batches, make_vecenv
from .episode_stats import LOSS_KEYS, EpisodeLog, window_row
from .overlap import BackgroundCollector, collect

log = logging.getLogger(__name__)


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


def puffer_config(cfg: TrainConfig, data_dir: Path, world: distributed.World = distributed.World()) -> dict:
    """The flat dict PuffeRL reads (pufferl.py's config[...] keys). With several ranks each
    PuffeRL counts its own steps, so its share of the run (and of the LR schedule) is 1/world.size."""
    o = cfg.ppo
    return dict(
        env="prospector", seed=cfg.run.seed, torch_deterministic=False, device=world.device(cfg.run.device),
        cpu_offload=False, use_rnn=cfg.policy.kind == "lstm", compile=o.compile, compile_mode="default",
        compile_fullgraph=False, precision=o.precision, total_timesteps=cfg.run.total_env_steps // world.size,
        batch_size=cfg.batch_size, bptt_horizon=o.bptt_horizon, minibatch_size=o.minibatch_size,
        max_minibatch_size=max(o.max_minibatch_size, o.bptt_horizon), update_epochs=o.update_epochs,
        optimizer=o.optimizer, learning_rate=o.learning_rate, adam_beta1=o.adam_beta1, adam_beta2=o.adam_beta2,
        adam_eps=o.adam_eps, anneal_lr=o.anneal_lr, gamma=o.gamma, gae_lambda=o.gae_lambda,
        clip_coef=o.clip_coef, vf_clip_coef=o.vf_clip_coef, vf_coef=o.vf_coef, ent_coef=o.ent_coef,
        max_grad_norm=o.max_grad_norm, prio_alpha=o.prio_alpha, prio_beta0=o.prio_beta0,
        vtrace_rho_clip=o.vtrace_rho_clip, vtrace_c_clip=o.vtrace_c_clip,
        checkpoint_interval=2**62, data_dir=str(data_dir),
    )


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
    resumed_from: dict | None = None  # on --resume: the last checkpoint's window_id, env_steps, metrics
    episodes_total: int = 0       # episodes finished by the run (all its windows, resumes included)
    status: dict = field(default_factory=dict)  # see the module doc
    status_listeners: list[Callable[[dict], None]] = field(default_factory=list)
    world: distributed.World = field(default_factory=distributed.World)
    collector: BackgroundCollector | None = None  # ppo.overlap: the next batch, collected while learning

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def policy(self):
        return distributed.unwrap(self.pufferl.uncompiled_policy)

    @property
    def env_steps(self) -> int:
        """The run's env steps, all ranks (each rank steps the same number; see distributed.py)."""
        return self.pufferl.global_step * self.world.size

    def epoch(self, window_end: int | None = None) -> tuple[int, float]:
        """One PPO epoch (collect a batch, learn from it); returns (episodes finished, their net profit sum).

        With ppo.overlap the batch is the one collected during the previous epoch's learning, and
        the next one starts collecting before this one is learned from, unless this batch
        reaches `window_end` (nothing runs in the background across a window boundary) or the
        run is still short of ppo.overlap_from_env_steps."""
        p = self.pufferl
        t0 = time.perf_counter()
        collect(p, self.collector)
        t1 = time.perf_counter()
        n, sums = self.episode_log.drain(batches(p.vecenv))
        if n:  # shown by PuffeRL's dashboard as user stats
            for name in ("episode_return", "net_profit", "survival", "profit_per_tick"):
                p.stats[name].append(sums[spec.METRIC_INDEX[name]] / n)
        if (self.collector is not None and window_end is not None and self.env_steps < window_end
                and self.env_steps >= self.cfg.ppo.overlap_from_env_steps):
            self.collector.start()
        p.train()
        t2 = time.perf_counter()
        self.env_seconds += t1 - t0
        self.learn_seconds += t2 - t1
        p.recent_sps = p.config["batch_size"] / (t2 - t0)
        self.episodes_total += int(self.world.sum(n)) if self.world.is_distributed else n
        # DDP's gradient all-reduce keeps the ranks in step, so they all run at this rank's pace
        self.status.update(env_steps=self.env_steps, sps=p.recent_sps * self.world.size,
                           episodes=self.episodes_total)
        self.notify()
        return n, float(sums[spec.METRIC_INDEX["net_profit"]])

    def notify(self) -> None:
        """Hands the status to every listener; a listener that fails is logged, never fatal."""
        for listener in self.status_listeners:
            try:
                listener(self.status)
            except Exception:
                log.exception("status listener %r failed", listener)

    def run_window(self, window_id: int, progress=None) -> WindowResult:
        p, cfg = self.pufferl, self.cfg
        end = min((window_id + 1) * cfg.run.window_env_steps, cfg.run.total_env_steps)
        start_steps, t0 = self.env_steps, time.perf_counter()
        self.follow_schedule(window_id, start_steps)
        self.episode_log.clear()
        self.status.update(state="training", current_window=window_id)
        self.notify()
        losses: dict[str, list[float]] = {k: [] for k in LOSS_KEYS}
        while self.env_steps < end:  # the same test on every rank: see distributed.py
            self.epoch(end)
            for k in LOSS_KEYS:
                if k in p.losses:
                    losses[k].append(float(p.losses[k]))
            if progress:
                progress.update(self, window_id)
        wall = time.perf_counter() - t0
        mean_losses = self.world.mean({k: float(np.mean(v)) for k, v in losses.items() if v})
        episodes = distributed.merge_episode_logs(self.episode_log, self.world)
        row = window_row(self.run_id, window_id, self.env_steps, episodes, self.env_steps - start_steps,
                         wall, p.optimizer.param_groups[0]["lr"], mean_losses)
        return WindowResult(self.run_id, window_id, self.env_steps, row, self.paths.checkpoint(window_id),
                            self.paths, self)

    def follow_schedule(self, window_id: int, env_steps: int) -> None:
        """Curriculum (env.schedule): from this window on, new episodes use the env config in
        force at env_steps; episodes in progress finish under their own rules. The entropy
        coefficient follows its schedule (ppo.ent_coef_final) window by window."""
        ent_coef = self.cfg.ent_coef_at(env_steps)
        if ent_coef != self.pufferl.config["ent_coef"]:
            self.pufferl.config["ent_coef"] = ent_coef
            log.info("window %d: ent_coef %.5f", window_id, ent_coef)
        env_config = self.cfg.env_config_at(env_steps)
        for batch in batches(self.pufferl.vecenv):
            if batch.config != env_config:
                batch.set_config(env_config)
                log.info("window %d: new episodes use %s", window_id, env_config)

    def begin(self) -> None:
        """Every duty's start(run); on resume, resume_window for the last checkpointed window."""
        for duty in self.duties:
            if hasattr(duty, "start"):
                duty.start(self)
        if self.resumed_from is not None:
            w = self.resumed_from
            window = WindowResult(self.run_id, w["window_id"], w["env_steps"], w["metrics"],
                                  self.paths.checkpoint(w["window_id"]), self.paths, self)
            for duty in self.duties:
                if hasattr(duty, "resume_window"):
                    duty.resume_window(window)

    def run(self, progress=None) -> list[dict]:
        for window_id in range(self.start_window, self.cfg.n_windows):
            window = self.run_window(window_id, progress)
            self.status.update(state="checkpointing")
            for duty in self.duties:
                duty(window)
            self.windows_done.append(window.metrics)
            self.status.update(windows_done=window_id + 1)
            self.notify()
            if progress:
                progress.window_done(self, window)
        return self.windows_done

    def finish(self, outcome: str, error: str | None = None) -> None:
        """Every duty's finish(run, outcome), each one even if another fails."""
        self.status.update(state="stopping")
        self.notify()
        for duty in self.duties:
            if hasattr(duty, "finish"):
                try:
                    duty.finish(self, outcome)
                except Exception:
                    log.exception("finishing duty %r failed", duty)
        self.status.update(state="failed" if outcome == "failed" else "stopped", error=error or "")
        self.notify()

    def close(self) -> None:
        if self.collector is not None:
            self.collector.close()  # a batch in flight ends before its env is closed
        self.pufferl.close()


def start_run(cfg: TrainConfig, run_id: str | None = None, resume: str | None = None,
              duties: list[Duty] | None = None, overrides: list[str] | None = None,
              status: dict | None = None) -> TrainingRun:
    """Builds everything for a new run, or for `resume` (a run id) from its last checkpoint.

    On resume the run's stored config is used, with `overrides` applied on top
    (e.g. run.total_env_steps=... to train further); `cfg` is ignored then. `status` is the
    dict the run keeps up to date (a new one if None).

    Under torchrun every rank calls this with the same run id (rank 0's) and builds its own
    env and PuffeRL; only rank 0 writes run.json and gets the duties."""
    world = distributed.current()
    state = None
    if resume is not None:
        data_dir = TrainConfig.from_dict(apply_overrides(cfg.to_dict(), overrides)).data_dir
        paths = RunPaths(data_dir, validate_run_id(resume))
        state = ckpt.load_latest(paths)          # clear error naming a corrupt / truncated file
        cfg = TrainConfig.from_dict(apply_overrides(state["config"], overrides))
        cfg.run.data_dir = str(paths.data_dir)
        start_window = int(state["window_id"]) + 1
        if int(state.get("world_size", 1)) != world.size:  # its step count and LR schedule are per rank
            raise ValueError(f"run {paths.run_id} was trained with {state.get('world_size', 1)} rank(s); "
                             f"resume it with as many (torchrun --nproc-per-node), not {world.size}")
    else:
        paths = RunPaths(cfg.data_dir, validate_run_id(run_id or new_run_id()))
        # only rank 0 looks: it may already have made the directory when another rank gets here
        if world.is_main and paths.run_dir.exists() and any(paths.run_dir.iterdir()):
            raise FileExistsError(f"run {paths.run_id} already exists in {paths.data_dir}; use --resume {paths.run_id}")
        start_window = 0
    if cfg.ppo.overlap and world.is_distributed:
        raise ValueError("ppo.overlap runs in one process; under torchrun every rank already has its own core")

    torch.set_num_threads(cfg.ppo.torch_threads)
    seed = world.env_seed(cfg.run.seed + start_window)  # the run's seed on rank 0 (and alone)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)

    if world.is_main:  # the run's files are rank 0's
        paths.make_dirs()
        if state is None:
            atomic_write_json(paths.run_json, run_record(cfg, paths.run_id))
        else:
            for directory in (paths.run_dir, paths.checkpoints_dir, paths.metrics_dir):
                remove_temp_files(directory)  # left by a writer that crashed; nothing else writes here now
            _repair_metrics(paths, state)
            record = (json.loads(paths.run_json.read_text()) if paths.run_json.exists()
                      else run_record(cfg, paths.run_id))
            record.setdefault("resumes", []).append({
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "from_window": int(state["window_id"]),
                "env_steps": int(state["env_steps"]), "config": cfg.to_dict()})
            atomic_write_json(paths.run_json, record)

    # A resumed run starts its games from other seeds than the run's first start.
    vecenv = make_vecenv(cfg, seed=seed,
                         env_config=cfg.env_config_at(int(state["env_steps"]) if state is not None else 0))
    pufferl = None
    try:
        policy = make_policy(**policy_kwargs(cfg))
        if state is not None:
            policy.load_state_dict(state["policy_state_dict"])
        elif cfg.run.init_weights:
            load_initial_weights(policy, Path(cfg.run.init_weights))
        device = world.device(cfg.run.device)
        # PuffeRL's dashboard sums over the ranks when it draws, so under torchrun every rank would
        # have to draw at the same moments: the dashboard is for single-process runs only.
        dashboard = cfg.run.progress == "dashboard" and not world.is_distributed
        if cfg.run.progress == "dashboard" and world.is_distributed and world.is_main:
            log.warning("run.progress = dashboard is not shown under torchrun")
        pufferl = WindowedPuffeRL(puffer_config(cfg, paths.run_dir, world), vecenv,
                                  distributed.wrap(policy, world, device), show_dashboard=dashboard)
        if state is not None:
            pufferl.optimizer.load_state_dict(state["optimizer_state_dict"])
            pufferl.scheduler.load_state_dict(state["scheduler_state_dict"])
            pufferl.global_step = int(state["env_steps"]) // world.size
            pufferl.epoch = int(state["epoch"])
        run = TrainingRun(cfg, paths, pufferl, start_window,
                          list(DEFAULT_DUTIES) + list(duties or []) if world.is_main else [], world=world,
                          collector=BackgroundCollector(pufferl, policy) if cfg.ppo.overlap else None)
    except BaseException:
        # A refused run stops what it started: the engine's env and PuffeRL's (non-daemon)
        # utilization thread, which would keep the process that asked alive
        if pufferl is not None:
            pufferl.close()          # closes the vecenv too
        else:
            vecenv.close()
        raise
    if state is not None and world.is_main:
        run.resumed_from = {"window_id": int(state["window_id"]), "env_steps": int(state["env_steps"]),
                            "metrics": state.get("metrics") or {}}
        run.episodes_total = sum(int(r.get("episodes_in_window") or 0) for r in read_jsonl(paths.metrics_file)
                                 if r.get("window_id", -1) <= state["window_id"])
    run.status = status if status is not None else {}
    run.status.update(run_id=paths.run_id, env_steps=run.env_steps, current_window=start_window,
                      windows_done=start_window, episodes=run.episodes_total,
                      total_env_steps=cfg.run.total_env_steps, window_env_steps=cfg.run.window_env_steps)
    if state is not None and world.is_main:
        run.status.update(last_checkpoint_path=paths.relative(paths.checkpoint(start_window - 1)),
                          last_checkpoint_time=paths.checkpoint(start_window - 1).stat().st_mtime)
    run.episode_log.drain(batches(vecenv))  # nothing from before the first epoch
    run.episode_log.clear()
    return run


def load_initial_weights(policy, path: Path) -> None:
    """run.init_weights: a policy file's weights into a new run's policy (a clear error when the file
    is unreadable or holds another shape of policy)."""
    data = ckpt.load(path)
    try:
        policy.load_state_dict(data["policy_state_dict"])
    except (KeyError, RuntimeError) as exc:
        raise ValueError(f"run.init_weights {path}: not weights for this run's policy (the file's is "
                         f"{data.get('policy_kwargs', '?')}): {exc}") from None
    log.info("weights from %s", path)


def _repair_metrics(paths: RunPaths, state: dict) -> None:
    """The checkpoint is written before its metrics row: if the run stopped between
    the two, the row is restored from the copy inside the checkpoint."""
    rows = read_jsonl(paths.metrics_file)
    if not any(r.get("window_id") == state["window_id"] for r in rows) and state.get("metrics"):
        append_jsonl(paths.metrics_file, state["metrics"])


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
          duties: list[Duty] | None = None, overrides: list[str] | None = None, progress=None,
          status: dict | None = None, status_listeners: list[Callable[[dict], None]] | None = None) -> TrainingRun:
    """Runs every window of a run (new, or resumed) and closes it; returns the finished TrainingRun.

    The duties' start hooks run before the first window and their finish hooks at the end
    with the outcome: finished, failed (an exception) or interrupted (Ctrl+C)."""
    run = start_run(cfg, run_id=run_id, resume=resume, duties=duties, overrides=overrides, status=status)
    run.status_listeners.extend(status_listeners or [])
    outcome, error = "failed", None
    try:
        if progress:
            progress.start(run)
        run.begin()
        run.run(progress)
        outcome = "finished"
        if run.world.is_distributed:  # DDP's promise, checkable in the log: the same weights on every rank
            log.info("final parameters %s", distributed.parameter_digest(run.policy.state_dict()))
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    except BaseException as e:
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        if progress:
            progress.stop()
        try:
            run.finish(outcome, error)
        finally:
            run.close()
    return run
