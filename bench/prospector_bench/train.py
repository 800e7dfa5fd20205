"""`prospector bench train` and `prospector bench learn`.

bench train: end-to-end PPO throughput (env steps per second including
learning) of the config's vec / PPO settings with the default MLP: several
short in-process runs, median, plus where the time goes, from PuffeRL's own
profile (env stepping, policy inference, rollout copies, learner forward,
backward + optimizer) and the trainer's evaluate() / train() wall split.

bench learn: trains with the learn config (configs/learn.toml) for a fixed budget, then plays
the trained policy, the three bots and random on the same held-out seeds and
ranks them by mean net profit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from .machine import median

# bench learn's training config and budget: configs/learn.toml (see LEARNING.md), its
# curriculum reaching the full game at 60M; 20 windows of 6M env steps, ~25 minutes at
# ~80,000 env steps/s on this 2-core machine (plus ~2 minutes of evaluation): inside the
# 30-minute limit on a quiet machine.
BENCH_LEARN_CONFIG = "learn"
BENCH_LEARN_ENV_STEPS = 120_000_000

PROFILE_KEYS = ("env", "eval_forward", "eval_copy", "eval_misc", "train_forward", "learn", "train_copy", "train_misc")


def _one_train_run(cfg, seconds: float, warmup_epochs: int = 2) -> dict:
    import torch

    from prospector_common.policy.network import make_policy
    from prospector_trainer.config import policy_kwargs
    from prospector_trainer.env import batches, make_vecenv
    from prospector_trainer.episode_stats import EpisodeLog
    from prospector_trainer.loop import WindowedPuffeRL, puffer_config

    torch.set_num_threads(cfg.ppo.torch_threads)
    vecenv = make_vecenv(cfg)
    policy = make_policy(**policy_kwargs(cfg))
    p = WindowedPuffeRL(puffer_config(cfg, Path(tempfile.gettempdir())), vecenv, policy)
    log = EpisodeLog()
    try:
        for _ in range(warmup_epochs):
            p.evaluate(); log.drain(batches(vecenv)); p.train()
        for prof in p.profile.profiles.values():
            prof["elapsed"] = 0.0
        env_s = learn_s = 0.0
        steps0, t0 = p.global_step, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a = time.perf_counter()
            p.evaluate()
            log.drain(batches(vecenv))
            b = time.perf_counter()
            p.train()
            c = time.perf_counter()
            env_s += b - a
            learn_s += c - b
        wall = time.perf_counter() - t0
        steps = p.global_step - steps0
        prof = {k: p.profile.profiles[k]["elapsed"] for k in PROFILE_KEYS if k in p.profile.profiles}
    finally:
        p.close()
    total_prof = sum(prof.values()) or 1.0
    return {
        "sps": steps / wall, "steps": steps, "wall_s": wall,
        "collect_fraction": env_s / wall, "learn_fraction": learn_s / wall,
        "collect_sps": steps / env_s if env_s else None, "learn_sps": steps / learn_s if learn_s else None,
        "profile_fraction": {k: v / total_prof for k, v in prof.items()},
    }


def bench_train(config: str = "default", overrides=None, repeats: int | None = None, seconds: float | None = None,
                quick: bool = False) -> dict:
    from prospector_trainer.config import load_config

    overrides = list(overrides or [])
    if quick:
        overrides = ["vec.num_envs=512", "ppo.bptt_horizon=32", "ppo.minibatch_size=8192",
                     "ppo.max_minibatch_size=8192", *overrides]
    cfg = load_config(config, overrides)
    repeats = repeats or (2 if quick else 5)
    seconds = seconds or (1.0 if quick else 8.0)
    runs = [_one_train_run(cfg, seconds) for _ in range(repeats)]
    med = lambda key: median([r[key] for r in runs])  # noqa: E731
    prof = {k: median([r["profile_fraction"].get(k, 0.0) for r in runs]) for k in PROFILE_KEYS}
    return {
        "train_sps_median": med("sps"),
        "train_sps_runs": [r["sps"] for r in runs],
        "target_sps": 100_000,
        "meets_target": med("sps") >= 100_000,
        "collect_fraction": med("collect_fraction"),
        "learn_fraction": med("learn_fraction"),
        "collect_only_sps": med("collect_sps"),
        "learn_only_sps": med("learn_sps"),
        "time_split": {
            "env_step": prof["env"],
            "policy_inference": prof["eval_forward"],
            "rollout_copy_and_misc": prof["eval_copy"] + prof["eval_misc"],
            "learner_forward": prof["train_forward"],
            "learner_backward_and_step": prof["learn"],
            "learner_copy_and_misc": prof["train_copy"] + prof["train_misc"],
        },
        "settings": {"num_envs": cfg.vec.num_envs, "engine_threads": cfg.vec.engine_threads,
                     "torch_threads": cfg.ppo.torch_threads, "bptt_horizon": cfg.ppo.bptt_horizon,
                     "batch_size": cfg.batch_size, "minibatch_size": cfg.ppo.minibatch_size,
                     "update_epochs": cfg.ppo.update_epochs, "policy": cfg.policy.kind,
                     "hidden_size": cfg.policy.hidden_size, "action_masking": cfg.policy.action_masking},
        "repeats": repeats, "seconds_per_run": seconds,
    }


def print_bench_train(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    s = r["settings"]
    t = Table(title=f"PPO training throughput ({s['policy']} {s['hidden_size']}, {s['num_envs']} envs x "
                    f"{s['bptt_horizon']} steps, minibatch {s['minibatch_size']}, {s['update_epochs']} update epoch(s); "
                    f"median of {r['repeats']} runs of {r['seconds_per_run']:.0f} s)")
    t.add_column("figure"); t.add_column("value", justify="right")
    mark = "[green]pass[/]" if r["meets_target"] else "[red]below target[/]"
    t.add_row("end-to-end env steps/s (incl. learning)", f"{r['train_sps_median']:,.0f}  {mark} (>= 100,000)")
    t.add_row("runs", ", ".join(f"{x:,.0f}" for x in r["train_sps_runs"]))
    t.add_row("collect (evaluate) share of wall time", f"{r['collect_fraction']:.0%}")
    t.add_row("learn (train) share of wall time", f"{r['learn_fraction']:.0%}")
    t.add_row("collect-only rate", f"{r['collect_only_sps']:,.0f}")
    t.add_row("learn-only rate", f"{r['learn_only_sps']:,.0f}")
    for k, v in r["time_split"].items():
        t.add_row(f"  {k.replace('_', ' ')}", f"{v:.0%}")
    Console(width=120).print(t)


# ---- bench learn -------------------------------------------------------------------------

def evaluate_policy(policy, action_masking: bool, seeds, env_config=None, greedy: bool = True,
                    threads: int = 1) -> list[dict]:
    """First episode of each seed, played by the policy: a list of episode metric dicts.

    All seeds run as one C batch. Once an env's first episode ends it only
    HOLDs (its later episodes are ignored); the batch's episode log is read on
    every step where an episode ends, so each record maps to its env."""
    from prospector.engine import Batch
    from prospector.rollout import play_batch
    from prospector_common.policy.actor import Actor

    seeds = list(seeds)
    with Batch(len(seeds), env_config, threads) as batch:
        return play_batch(Actor(policy, action_masking, greedy=greedy), batch, seeds)


def summarize(results: list[dict]) -> dict:
    profits = [r["net_profit"] for r in results]
    return {
        "episodes": len(results),
        "net_profit_mean": statistics.fmean(profits),
        "net_profit_median": median(profits),
        "survival_mean": statistics.fmean(r["survival"] for r in results),
        "profit_per_tick_mean": statistics.fmean(r["profit_per_tick"] for r in results),
        "destroyed_mean": statistics.fmean(r["destroyed"] for r in results),
        "stranded_mean": statistics.fmean(r["stranded"] for r in results),
    }


def bench_learn(config: str = BENCH_LEARN_CONFIG, overrides=None, env_steps: int | None = None, episodes: int = 200,
                seed0: int = 1_000_000, greedy: bool = True, checkpoint: str | None = None,
                data_dir: str | None = None, progress: bool = True, eval_env: str = "full") -> dict:
    """Train (or take `checkpoint`), then play PPO, the bots and random on the same held-out seeds.

    eval_env "full" (the default) plays the full game (every switch on, 20000 ticks), whatever
    curriculum the policy was trained on: that is the game the bots are measured on. "train"
    plays the checkpoint's own training env config instead."""
    if eval_env not in ("full", "train"):
        raise ValueError(f"eval_env must be 'full' or 'train', got {eval_env!r}")
    from prospector.bots import compare

    from prospector_common.policy.checkpoint import load_policy
    from prospector_trainer.config import load_config
    from prospector_trainer.loop import train
    from prospector_trainer.progress import TrainProgress

    t0 = time.time()
    training = None
    if checkpoint is None:
        overrides = [f"run.total_env_steps={env_steps or BENCH_LEARN_ENV_STEPS}", *(overrides or [])]
        if data_dir:
            overrides.append(f'run.data_dir="{data_dir}"')
        cfg = load_config(config, overrides)
        run = train(cfg, overrides=overrides,
                    progress=TrainProgress(cfg.run.progress if progress else "none"))
        checkpoint = str(run.paths.checkpoint(run.windows_done[-1]["window_id"]))
        training = {"run_id": run.run_id, "env_steps": run.pufferl.global_step, "seconds": time.time() - t0,
                    "curve": [{k: w[k] for k in ("window_id", "env_steps_total", "net_profit_mean",
                                                 "net_profit_median", "survival_rate", "return_mean")}
                              for w in run.windows_done]}
    from prospector.spec import EnvConfig

    policy, data = load_policy(Path(checkpoint))
    from prospector_trainer.config import TrainConfig

    cfg = TrainConfig.from_dict(data["config"])
    env_config = (EnvConfig() if eval_env == "full" else cfg.env_config).replace(reward_mode="shaped")
    seeds = list(range(seed0, seed0 + episodes))
    import torch

    # the training's thread count: torch's default (every core, spinning) starves the engine
    torch.set_num_threads(cfg.ppo.torch_threads)
    t1 = time.time()
    ppo = summarize(evaluate_policy(policy, cfg.policy.action_masking, seeds, env_config, greedy))
    ppo_seconds = time.time() - t1
    bots = compare(episodes, seed0, config=env_config.to_dict())
    table = {"ppo": ppo, **{name: {k: s[k] for k in ("episodes", "net_profit_mean", "net_profit_median",
                                                     "survival_mean", "profit_per_tick_mean", "destroyed_mean",
                                                     "stranded_mean")} for name, s in bots.items()}}
    ranking = sorted(table, key=lambda n: table[n]["net_profit_mean"], reverse=True)
    best_bot = max((n for n in table if n not in ("ppo", "random")), key=lambda n: table[n]["net_profit_mean"])
    return {
        "checkpoint": checkpoint, "training": training, "eval_env": eval_env, "env_config": env_config.to_dict(),
        "seeds": f"{seed0}..{seed0 + episodes - 1}", "ppo_actions": "argmax" if greedy else "sampled",
        "table": table, "ranking": ranking, "ppo_rank": ranking.index("ppo") + 1,
        "best_bot": best_bot, "ppo_beats_best_bot": table["ppo"]["net_profit_mean"] > table[best_bot]["net_profit_mean"],
        "ppo_eval_seconds": ppo_seconds, "total_seconds": time.time() - t0,
    }


def print_bench_learn(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    tr = r["training"]
    game = "full game" if r["eval_env"] == "full" else "training env"
    title = f"Held-out seeds {r['seeds']} ({game}, {r['env_config']['time_max']} ticks)"
    if tr:
        title += f"; PPO trained {tr['env_steps']:,} env steps in {tr['seconds'] / 60:.1f} min"
    t = Table(title=title)
    for col in ("rank", "policy", "net profit mean", "median", "survival", "profit/tick", "destroyed", "stranded"):
        t.add_column(col, justify="right")
    for i, name in enumerate(r["ranking"], 1):
        s = r["table"][name]
        label = f"PPO ({r['ppo_actions']})" if name == "ppo" else name
        t.add_row(str(i), label, f"{s['net_profit_mean']:,.0f}", f"{s['net_profit_median']:,.0f}",
                  f"{s['survival_mean']:.2f}", f"{s['profit_per_tick_mean']:.2f}", f"{s['destroyed_mean']:.2f}",
                  f"{s['stranded_mean']:.2f}")
    console = Console(width=120)
    console.print(t)
    console.print(f"PPO rank {r['ppo_rank']} of {len(r['ranking'])}; best bot {r['best_bot']}; "
                  f"PPO beats it: {r['ppo_beats_best_bot']}")


# ---- the command line (prospector_bench.cli) ---------------------------------------------


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="small and short (for tests)")
    p.add_argument("--repeats", type=int, default=None, help="runs (default 5; quick 2)")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per run (default 8; quick 2)")
    p.add_argument("--config", default="default", help="config whose PPO and vec settings are measured")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def train_main(args: argparse.Namespace) -> int:
    result = bench_train(config=args.config, overrides=args.overrides, repeats=args.repeats,
                         seconds=args.seconds, quick=args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_bench_train(result)
    return 0


def add_learn_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--config", default="learn", help="training config (default: learn)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--env-steps", type=int, default=None,
                   help="training budget in env steps (default: the bench budget, about 25 minutes here)")
    p.add_argument("--episodes", type=int, default=200, help="held-out evaluation seeds (default 200)")
    p.add_argument("--seed0", type=int, default=1_000_000, help="first held-out seed (default 1,000,000)")
    # PPO's policy is stochastic: it is trained sampling, and its argmax can
    # loop (the learn checkpoint strands 42 % of its episodes under argmax)
    p.add_argument("--argmax", action="store_true", help="PPO takes its most likely action (default: it samples)")
    p.add_argument("--checkpoint", default=None, help="skip training: evaluate this checkpoint")
    p.add_argument("--data-dir", default=None, help="where the training run goes (default: data root)")
    p.add_argument("--eval-env", choices=("full", "train"), default="full",
                   help="full: play the full 20000-tick game (default); train: the checkpoint's training env")


def learn_main(args: argparse.Namespace) -> int:
    result = bench_learn(config=args.config, overrides=args.overrides, env_steps=args.env_steps,
                         episodes=args.episodes, seed0=args.seed0, greedy=args.argmax,
                         checkpoint=args.checkpoint, data_dir=args.data_dir, eval_env=args.eval_env)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_bench_learn(result)
    return 0
