"""Evaluating one window: load its checkpoint, play M episodes, record, tag, catalog.

    options = EvalOptions(episodes=3)
    result = evaluate_window(ctx, run_id, window_id, options)

Episodes are played with the C engine, one env, the policy greedy (argmax)
unless `sample`, on seeds derived from (run_id, window_id) (`episode_seeds`),
in the run's env config with the evaluation overrides (the sparse reward by
default). Replay ids are derived from (run_id, window_id, seed, policy mode,
env config), so evaluating a window twice lands on the same files and the same
catalog rows: the catalog's False answers make it idempotent.

A policy whose checkpoint carries a greedy head (prospector_common.policy.greedy, written by
`prospector fit-greedy`) is played greedily by its head, whatever `sample` says: its replays
record the mode "greedy_head".

The first seed's episode is the window's `every_window` replay. It is
cataloged last, after the window's other episodes, so "the window has its
every_window replay" means "the window is completely evaluated".
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prospector import spec
from prospector.engine import Engine
from prospector.rollout import SingleGame, run_episode
from prospector.spec import EnvConfig
from prospector_common.catalog import (
    MILESTONE_PREFIX,
    TAG_BEST_SO_FAR,
    TAG_EVERY_WINDOW,
    Catalog,
    ReplayRecord,
)
from prospector_common.curriculum import env_config_at
from prospector_common.ids import new_replay_id, validate_run_id, validate_window_id
from prospector_common.replay import DEFAULT_GZIP_LEVEL, Recorder, write_replay
from prospector_common.storage import RunPaths

log = logging.getLogger(__name__)

MILESTONE_FIRST_PROFIT = f"{MILESTONE_PREFIX}first_profit"
MILESTONE_FULL_SURVIVAL = f"{MILESTONE_PREFIX}full_survival"
PROFIT_MILESTONES = ((1_000.0, f"{MILESTONE_PREFIX}profit_1k"), (10_000.0, f"{MILESTONE_PREFIX}profit_10k"),
                     (100_000.0, f"{MILESTONE_PREFIX}profit_100k"))


class WindowNotFound(LookupError):
    """The run or window is not in the catalog."""


class CheckpointUnusable(RuntimeError):
    """The window's checkpoint is missing or corrupt after the bounded retries; says why."""


@dataclass(frozen=True)
class EvalOptions:
    episodes: int = 3
    sample: bool = False                    # sample from the policy instead of argmax
    reward_mode: str | None = "sparse"      # None: the run's own reward mode
    env_overrides: dict = field(default_factory=dict)  # EnvConfig fields on top of the run's (e.g. time_max)
    first_seed: int | None = None           # None: the seeds derived from (run_id, window_id)
    force: bool = False                     # evaluate again (new replay ids) even if already done
    gzip_level: int = DEFAULT_GZIP_LEVEL
    best_margin_abs: float = 100.0          # best_so_far: beat the previous best by max(abs, rel * |best|)
    best_margin_rel: float = 0.05
    checkpoint_attempts: int = 3
    checkpoint_retry_s: float = 0.5         # doubled after each failed attempt

    def __post_init__(self) -> None:
        if not 1 <= self.episodes <= 100:
            raise ValueError(f"episodes must be in 1..100, got {self.episodes}")
        if self.reward_mode is not None and self.reward_mode not in spec.REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {spec.REWARD_MODES} or None, got {self.reward_mode!r}")
        if self.checkpoint_attempts < 1:
            raise ValueError("checkpoint_attempts must be >= 1")


@dataclass
class EpisodeResult:
    seed: int
    recorder: Recorder
    metrics: dict[str, float]
    terminated: bool
    truncated: bool
    seconds: float

    @property
    def length(self) -> int:
        return len(self.recorder)


@dataclass
class WindowEvaluation:
    run_id: str
    window_id: int
    replays: list[ReplayRecord]        # in play order
    already_done: bool = False
    new_replay_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    frames: int = 0
    bytes_written: int = 0


# ---- seeds and ids --------------------------------------------------------------------


def episode_seeds(run_id: str, window_id: int, n: int, first_seed: int | None = None) -> list[int]:
    """n seeds: first_seed, first_seed+1, ... or, by default, derived from (run_id, window_id).

    Derived seeds are 32-bit (short replay ids) and the same on every machine.
    """
    if first_seed is not None:
        return [(first_seed + i) % 2**64 for i in range(n)]
    return [int.from_bytes(hashlib.sha256(f"{run_id}:{window_id}:{i}".encode()).digest()[:4], "big")
            for i in range(n)]


def replay_key(run_id: str, window_id: int, seed: int, env_config: EnvConfig, mode: str) -> str:
    cfg = ",".join(f"{k}={v}" for k, v in sorted(env_config.to_dict().items()))
    return f"{run_id}|{window_id}|{seed}|{mode}|{cfg}"


# ---- the policy -----------------------------------------------------------------------


@dataclass
class WindowPolicy:
    policy: Any
    checkpoint: dict
    path: Path
    action_masking: bool
    run_env_config: EnvConfig
    greedy_head: Any = None     # GreedyHead: how this policy plays greedily (then it never samples)

    def mode(self, sample: bool) -> str:
        """How its episodes are played: "greedy_head", "sample" or "greedy" (argmax)."""
        return "greedy_head" if self.greedy_head is not None else "sample" if sample else "greedy"

    def info(self, sample: bool) -> dict:
        kwargs = dict(self.checkpoint.get("policy_kwargs", {}))
        return {"checkpoint": f"checkpoints/{self.path.name}", "window_id": self.checkpoint.get("window_id"),
                "env_steps": self.checkpoint.get("env_steps"), "policy_kwargs": kwargs,
                "mode": self.mode(sample), "action_masking": self.action_masking}


def load_window_policy(paths: RunPaths, window_id: int, attempts: int = 3, retry_s: float = 0.5,
                       sleep: Callable[[float], None] = time.sleep) -> WindowPolicy:
    """The window's checkpoint as a policy; CheckpointUnusable after `attempts` failures.

    The path is rebuilt from run_id and window_id (never taken from a message).
    A checkpoint of another run or window counts as corrupt.
    """
    from prospector_common.policy.checkpoint import CheckpointError, load_policy
    from prospector_common.policy.greedy import head_of_checkpoint

    path = paths.checkpoint(window_id)
    reason = ""
    for attempt in range(1, attempts + 1):
        try:
            policy, data = load_policy(path)
            if data.get("run_id") != paths.run_id or data.get("window_id") != window_id:
                raise CheckpointError(f"checkpoint {path} holds window {data.get('window_id')} of run "
                                      f"{data.get('run_id')}, not window {window_id} of run {paths.run_id}")
            config = data.get("config") or {}
            masking = bool(data.get("policy_kwargs", {}).get(
                "action_masking", config.get("policy", {}).get("action_masking", False)))
            # a curriculum (env.schedule): the game the window was training on when it ended
            env_config = env_config_at(config.get("env", {}), int(data.get("env_steps") or 0))
            return WindowPolicy(policy, data, path, masking, env_config, head_of_checkpoint(data))
        except Exception as exc:  # noqa: BLE001 - CheckpointError, or a state dict that does not fit
            reason = str(exc) if isinstance(exc, CheckpointError) else f"checkpoint {path}: {type(exc).__name__}: {exc}"
            if attempt < attempts:
                log.warning("checkpoint attempt %d/%d failed: %s", attempt, attempts, reason)
                sleep(retry_s * 2 ** (attempt - 1))
    raise CheckpointUnusable(f"{reason} (after {attempts} attempts)")


def eval_env_config(run_env: EnvConfig, options: EvalOptions) -> EnvConfig:
    changes = dict(options.env_overrides)
    if options.reward_mode is not None:
        changes["reward_mode"] = options.reward_mode
    return run_env.replace(**changes) if changes else run_env


# ---- one episode ------------------------------------------------------------------------


def play_episode(policy: Any, action_masking: bool, env_config: EnvConfig, seed: int, *, sample: bool = False,
                 gzip_level: int = DEFAULT_GZIP_LEVEL, heartbeat: Callable[[], None] | None = None,
                 heartbeat_every: int = 512, greedy_head: Any = None) -> EpisodeResult:
    """Play one episode to its end in a single C env, recording every step (greedily by
    `greedy_head` when there is one)."""
    from prospector_common.policy.actor import Actor

    t0 = time.perf_counter()
    engine = Engine(env_config, seed=seed)
    actor = Actor(policy, action_masking, greedy=not sample, seed=seed, greedy_head=greedy_head)
    actor.explain = True  # each frame records the policy's top actions, value and entropy
    recorder = Recorder(engine.render_state(), gzip_level=gzip_level)

    def record(engine: Engine, action: int, reward: float) -> None:
        explained = actor.last_policy[0] if actor.last_policy else None
        recorder.add(action, reward, engine.events(), engine.render_state(), policy=explained)
        if heartbeat is not None and len(recorder) % heartbeat_every == 0:
            heartbeat()

    max_steps = env_config.time_max + 1  # every step takes at least one tick
    metrics = run_episode(SingleGame(actor), engine, max_steps=max_steps, on_step=record)
    if not engine.done:
        raise RuntimeError(f"episode on seed {seed} did not end within {max_steps} steps")
    return EpisodeResult(seed, recorder, metrics, engine.terminated, engine.truncated, time.perf_counter() - t0)


# ---- tags -------------------------------------------------------------------------------


def replay_tags(catalog: Catalog, run_id: str, metrics: dict[str, float], full_time: bool, every_window: bool,
                options: EvalOptions) -> list[str]:
    """every_window (if asked), best_so_far, and the milestones the run does not have yet.

    best_so_far: the run has no replay yet, or this net profit beats the best
    by max(best_margin_abs, best_margin_rel * |best|). Milestones are also
    guarded by the catalog (one replay per milestone per run), which resolves
    races between evaluators.
    """
    tags = [TAG_EVERY_WINDOW] if every_window else []
    profit = metrics["net_profit"]
    best = catalog.best_net_profit(run_id)
    if best is None or profit >= best + max(options.best_margin_abs, options.best_margin_rel * abs(best)):
        tags.append(TAG_BEST_SO_FAR)
    candidates = []
    if profit > 0:
        candidates.append(MILESTONE_FIRST_PROFIT)
    if full_time and metrics["survival"] >= 1.0:
        candidates.append(MILESTONE_FULL_SURVIVAL)
    candidates += [tag for threshold, tag in PROFIT_MILESTONES if profit >= threshold]
    tags += [tag for tag in candidates if not catalog.has_tag(run_id, tag)]
    return tags


# ---- a window ---------------------------------------------------------------------------


@dataclass
class EvalContext:
    """What evaluating needs: where files go, the catalog, and optional sinks."""

    data_dir: Path
    catalog: Catalog
    announce: Callable[[ReplayRecord], None] | None = None   # e.g. to prospector:replays
    log_artifact: Callable[[ReplayRecord, Path], None] | None = None  # e.g. W&B
    sleep: Callable[[float], None] = time.sleep


def evaluate_window(ctx: EvalContext, run_id: str, window_id: int, options: EvalOptions | None = None,
                    heartbeat: Callable[[], None] | None = None) -> WindowEvaluation:
    """Evaluate one window (see the module doc). WindowNotFound, CheckpointUnusable."""
    options = options or EvalOptions()
    run_id, window_id = validate_run_id(run_id), validate_window_id(window_id)
    t0 = time.perf_counter()
    catalog = ctx.catalog
    if catalog.get_window(run_id, window_id) is None:
        raise WindowNotFound(f"window {run_id}/{window_id} is not in the catalog")
    done = catalog.has_every_window_replay(run_id, window_id)
    if done and not options.force:
        existing = catalog.list_replays(run_id, window_id=window_id, limit=1000).items
        order = {seed: i for i, seed in enumerate(episode_seeds(run_id, window_id, max(len(existing), 1)))}
        existing = sorted(existing, key=lambda r: (order.get(r.seed, len(order)), r.created_at))  # play order
        return WindowEvaluation(run_id, window_id, existing, already_done=True,
                                seconds=time.perf_counter() - t0)

    paths = RunPaths(ctx.data_dir, run_id)
    wp = load_window_policy(paths, window_id, options.checkpoint_attempts, options.checkpoint_retry_s, ctx.sleep)
    env_config = eval_env_config(wp.run_env_config, options)
    seeds = episode_seeds(run_id, window_id, options.episodes, options.first_seed)
    episodes = [play_episode(wp.policy, wp.action_masking, env_config, seed, sample=options.sample,
                             gzip_level=options.gzip_level, heartbeat=heartbeat, greedy_head=wp.greedy_head)
                for seed in seeds]

    result = WindowEvaluation(run_id, window_id, [])
    records: dict[int, ReplayRecord] = {}
    # The every_window episode (the first) last: see the module doc.
    order = list(range(1, len(episodes))) + [0]
    for i in order:
        ep = episodes[i]
        key = None if options.force else replay_key(run_id, window_id, ep.seed, env_config, wp.mode(options.sample))
        replay_id = new_replay_id(window_id, ep.seed, key=key)
        path = paths.replay(replay_id)
        every_window = i == 0 and not done
        tags = replay_tags(catalog, run_id, ep.metrics, ep.truncated, every_window, options)
        summary = {"metrics": ep.metrics, "return": ep.metrics["episode_return"],
                   "net_profit": ep.metrics["net_profit"], "survival": ep.metrics["survival"] >= 1.0,
                   "terminated": ep.terminated, "truncated": ep.truncated, "length": ep.length,
                   "ticks": int(ep.recorder.initial_state["time_max"]) if ep.truncated else None,
                   "episode_index": i, "tags_at_recording": tags}
        data = ep.recorder.to_bytes(
            run_id=run_id, window_id=window_id, replay_id=replay_id, seed=ep.seed,
            env_config=env_config.to_dict(), policy=wp.info(options.sample), summary=summary,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if not path.exists():
            write_replay(path, data)
            result.bytes_written += len(data)
        added = catalog.add_replay(
            replay_id=replay_id, run_id=run_id, window_id=window_id, seed=ep.seed,
            return_=ep.metrics["episode_return"], net_profit=ep.metrics["net_profit"],
            survival=ep.metrics["survival"] >= 1.0, length=ep.length, tags=tags, path=paths.relative(path))
        record = catalog.get_replay(replay_id)
        if record is None:  # another evaluator won the window's every_window race with other ids
            continue
        records[i] = record
        if added:
            result.new_replay_ids.append(replay_id)
            result.frames += ep.length
            if ctx.log_artifact is not None:
                ctx.log_artifact(record, path)
        if ctx.announce is not None:
            ctx.announce(record)
    result.replays = [records[i] for i in sorted(records)]
    result.seconds = time.perf_counter() - t0
    return result
