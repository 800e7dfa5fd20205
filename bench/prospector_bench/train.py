"""`prospector bench train` and `prospector bench learn`.

bench train: end-to-end PPO throughput (env steps per second including
learning) of the config's vec / PPO settings with the default MLP: several
short in-process runs, median, plus where the time goes, from PuffeRL's own
profile (env stepping, policy inference, rollout copies, learner forward,
backward + optimizer) and the trainer's evaluate() / train() wall split.

bench learn: trains with the learn config (configs/learn.toml) for a fixed budget, fits the
policy's greedy head (prospector_trainer.greedy_fit: how it plays deterministically; written into
the checkpoint), then plays the trained policy (sampling, and greedily by its head), the three bots
and random on the same held-out seeds and ranks them by mean net profit. The plain argmax of the
logits is played beside them (ppo_argmax_plain) to show what the head is for.
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
# curriculum reaching the full game at 60M and full-length games at 150M; its whole budget
# (training, the greedy head's fit, the evaluation) is meant to fit an hour on the 2-core machine.
BENCH_LEARN_CONFIG = "learn"
# Seeds (services/trainer/LEARNING.md): experiments and checkpoint choices are judged on the
# tuning range; the held-out range is played only for the final table, never to choose.
TUNING_SEED0 = 1_000_000
HELD_OUT_SEED0 = 5_000_000
PPO_ROWS = ("ppo_sample", "ppo_argmax", "ppo_argmax_plain")  # sampled; greedy head (or argmax); plain argmax
ROW_LABELS = {"ppo_sample": "PPO (sampling)", "ppo_argmax": "PPO (argmax, greedy head)",
              "ppo_argmax_plain": "PPO (plain argmax)"}

PROFILE_KEYS = ("env", "eval_forward", "eval_copy", "eval_misc", "train_forward", "learn", "train_copy", "train_misc")


def _one_train_run(cfg, seconds: float, warmup_epochs: int = 2) -> dict:
    """One short in-process run, epochs as the trainer runs them (serial or ppo.overlap)."""
    import torch

    from prospector_common.policy.network import make_policy
    from prospector_trainer.config import policy_kwargs
    from prospector_trainer.env import batches, make_vecenv
    from prospector_trainer.episode_stats import EpisodeLog
    from prospector_trainer.loop import WindowedPuffeRL, puffer_config
    from prospector_trainer.overlap import BackgroundCollector, collect

    torch.set_num_threads(cfg.ppo.torch_threads)
    vecenv = make_vecenv(cfg)
    policy = make_policy(**policy_kwargs(cfg))
    p = WindowedPuffeRL(puffer_config(cfg, Path(tempfile.gettempdir())), vecenv, policy)
    p.profile.frequency = 1  # PuffeRL times every 5th epoch; a short run has only a few
    collector = BackgroundCollector(p, policy) if cfg.ppo.overlap else None
    log = EpisodeLog()

    def epoch(keep_collecting: bool) -> tuple[float, float]:
        a = time.perf_counter()
        collect(p, collector)
        log.drain(batches(vecenv))
        if collector is not None and keep_collecting:
            collector.start()
        b = time.perf_counter()
        p.train()
        return b - a, time.perf_counter() - b

    try:
        for _ in range(warmup_epochs):
            epoch(keep_collecting=True)
        for prof in p.profile.profiles.values():
            prof["elapsed"] = 0.0
        env_s = learn_s = 0.0
        steps0, t0 = p.global_step, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            waited, learned = epoch(keep_collecting=True)
            env_s += waited
            learn_s += learned
        wall = time.perf_counter() - t0  # the batch still in flight is counted in neither
        steps = p.global_step - steps0
        prof = {k: p.profile.profiles[k]["elapsed"] for k in PROFILE_KEYS if k in p.profile.profiles}
    finally:
        if collector is not None:
            collector.close()
        p.close()
    total_prof = sum(prof.values()) or 1.0
    return {
        "sps": steps / wall, "steps": steps, "wall_s": wall,
        # overlapped, "collect" is only the wait for the background batch
        "collect_fraction": env_s / wall, "learn_fraction": learn_s / wall,
        "collect_sps": steps / env_s if env_s else None, "learn_sps": steps / learn_s if learn_s else None,
        "profile_fraction": {k: v / total_prof for k, v in prof.items()},
    }


def bench_train(config: str = "default", overrides=None, repeats: int | None = None, seconds: float | None = None,
                quick: bool = False) -> dict:
    """The config's throughput twice, side by side: PuffeRL's serial epochs (collect, then
    learn: the trainer before ppo.overlap) and overlapped ones; runs alternate so both
    see the same machine. An LSTM policy has serial epochs only (ppo.overlap is for the
    MLP): its overlapped figures are None and the headline is the serial one."""
    from prospector_trainer.config import load_config

    overrides = list(overrides or [])
    if quick:
        overrides = ["vec.num_envs=512", "ppo.bptt_horizon=32", "ppo.minibatch_size=8192",
                     "ppo.max_minibatch_size=8192", *overrides]
    modes = {"serial": load_config(config, [*overrides, "ppo.overlap=false"])}
    if modes["serial"].policy.kind == "mlp":
        modes["overlapped"] = load_config(config, [*overrides, "ppo.overlap=true"])
    cfg = modes["serial"]
    repeats = repeats or (2 if quick else 5)
    seconds = seconds or (1.0 if quick else 8.0)
    runs = {name: [] for name in modes}
    for _ in range(repeats):
        for name, mode_cfg in modes.items():
            runs[name].append(_one_train_run(mode_cfg, seconds))

    def summary(rs: list[dict]) -> dict:
        med = lambda key: median([r[key] for r in rs])  # noqa: E731
        prof = {k: median([r["profile_fraction"].get(k, 0.0) for r in rs]) for k in PROFILE_KEYS}
        return {
            "sps_median": med("sps"), "sps_runs": [r["sps"] for r in rs],
            "collect_fraction": med("collect_fraction"), "learn_fraction": med("learn_fraction"),
            "collect_only_sps": med("collect_sps"), "learn_only_sps": med("learn_sps"),
            "time_split": {
                "env_step": prof["env"],
                "policy_inference": prof["eval_forward"],
                "rollout_copy_and_misc": prof["eval_copy"] + prof["eval_misc"],
                "learner_forward": prof["train_forward"],
                "learner_backward_and_step": prof["learn"],
                "learner_copy_and_misc": prof["train_copy"] + prof["train_misc"],
            },
        }

    serial = summary(runs["serial"])
    overlapped = summary(runs["overlapped"]) if "overlapped" in runs else None
    ratios = [o["sps"] / s["sps"] for s, o in zip(runs["serial"], runs.get("overlapped", []))]
    headline = overlapped or serial  # the trainer at its fastest for this policy
    return {
        "train_sps_median": headline["sps_median"],
        "train_sps_runs": headline["sps_runs"],
        "target_sps": 100_000,
        "meets_target": headline["sps_median"] >= 100_000,
        "serial": serial,
        "overlapped": overlapped,
        "overlap_speedup_median": median(ratios) if ratios else None,
        "overlap_speedup_runs": ratios,
        "collect_fraction": serial["collect_fraction"],
        "learn_fraction": serial["learn_fraction"],
        "collect_only_sps": serial["collect_only_sps"],
        "learn_only_sps": serial["learn_only_sps"],
        "time_split": serial["time_split"],
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
    overlapped = r["overlapped"] is not None
    t.add_row(f"end-to-end env steps/s (incl. learning), {'overlapped' if overlapped else 'serial'}",
              f"{r['train_sps_median']:,.0f}  {mark} (>= 100,000)")
    t.add_row("  runs", ", ".join(f"{x:,.0f}" for x in r["train_sps_runs"]))
    if overlapped:
        t.add_row("serial (collect, then learn), side by side", f"{r['serial']['sps_median']:,.0f}")
        t.add_row("  runs", ", ".join(f"{x:,.0f}" for x in r["serial"]["sps_runs"]))
        t.add_row("overlapped / serial (median of paired runs)", f"{r['overlap_speedup_median']:.2f}x")
    else:
        t.add_row("overlapped", f"not measured: ppo.overlap is for the mlp policy, this is {s['policy']}")
    t.add_row("serial: collect (evaluate) share of wall time", f"{r['collect_fraction']:.0%}")
    t.add_row("serial: learn (train) share of wall time", f"{r['learn_fraction']:.0%}")
    t.add_row("serial: collect-only rate", f"{r['collect_only_sps']:,.0f}")
    t.add_row("serial: learn-only rate", f"{r['learn_only_sps']:,.0f}")
    for k, v in r["time_split"].items():
        t.add_row(f"  serial: {k.replace('_', ' ')}", f"{v:.0%}")
    Console(width=120).print(t)


# ---- bench learn -------------------------------------------------------------------------

def evaluate_policy(policy, action_masking: bool, seeds, env_config=None, greedy: bool = True,
                    threads: int = 1, greedy_head=None) -> list[dict]:
    """First episode of each seed, played by the policy (greedily by `greedy_head` when given):
    a list of episode metric dicts.

    All seeds run as one C batch. Once an env's first episode ends it only
    HOLDs (its later episodes are ignored); the batch's episode log is read on
    every step where an episode ends, so each record maps to its env."""
    from prospector.engine import Batch
    from prospector.rollout import play_batch
    from prospector_common.policy.actor import Actor

    seeds = list(seeds)
    with Batch(len(seeds), env_config, threads) as batch:
        return play_batch(Actor(policy, action_masking, greedy=greedy, greedy_head=greedy_head), batch, seeds)


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
                seed0: int = HELD_OUT_SEED0, checkpoint: str | None = None,
                data_dir: str | None = None, progress: bool = True, eval_env: str = "full",
                greedy_generations: int | None = None, greedy_settings=None) -> dict:
    """Train (or take `checkpoint`), fit its greedy head unless the checkpoint has one
    (`greedy_generations` of evolution strategies, default FitSettings'; 0: none, ppo_argmax is then
    the plain argmax; or all of the fit's settings as `greedy_settings`, a FitSettings), then play
    PPO (sampling, greedy, plain argmax), the bots and random on the same seeds and rank them by
    mean net profit.

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
        # the config's own run.total_env_steps unless --env-steps says otherwise
        overrides = [*([f"run.total_env_steps={env_steps}"] if env_steps else []), *(overrides or [])]
        if data_dir:
            overrides.append(f'run.data_dir="{data_dir}"')
        cfg = load_config(config, overrides)
        run = train(cfg, overrides=overrides,
                    progress=TrainProgress(cfg.run.progress if progress else "none"))
        checkpoint = str(run.paths.checkpoint(run.windows_done[-1]["window_id"]))
        seconds = time.time() - t0
        training = {"run_id": run.run_id, "env_steps": run.pufferl.global_step, "seconds": seconds,
                    "sps": run.pufferl.global_step / seconds,
                    "curve": [{k: w[k] for k in ("window_id", "env_steps_total", "net_profit_mean",
                                                 "net_profit_median", "survival_rate", "return_mean")}
                              for w in run.windows_done]}
    from prospector.spec import EnvConfig

    greedy_fit = fit_head(Path(checkpoint), greedy_generations, progress, greedy_settings)
    policy, data = load_policy(Path(checkpoint))
    from prospector_trainer.config import TrainConfig

    cfg = TrainConfig.from_dict(data["config"])
    env_config = (EnvConfig() if eval_env == "full" else cfg.env_config).replace(reward_mode="shaped")
    seeds = list(range(seed0, seed0 + episodes))
    import torch

    # the training's thread count: torch's default (every core, spinning) starves the engine
    torch.set_num_threads(cfg.ppo.torch_threads)
    from prospector_common.policy.greedy import head_of_checkpoint

    head = head_of_checkpoint(data)
    plays = {"ppo_sample": {"greedy": False}, "ppo_argmax": {"greedy": True, "greedy_head": head}}
    if head is not None:
        plays["ppo_argmax_plain"] = {"greedy": True}
    table, eval_seconds = {}, {}
    for row, how in plays.items():
        t1 = time.time()
        table[row] = summarize(evaluate_policy(policy, cfg.policy.action_masking, seeds, env_config, **how))
        eval_seconds[row] = time.time() - t1
    bots = compare(episodes, seed0, config=env_config.to_dict())
    table.update({name: {k: s[k] for k in ("episodes", "net_profit_mean", "net_profit_median", "survival_mean",
                                           "profit_per_tick_mean", "destroyed_mean", "stranded_mean")}
                  for name, s in bots.items()})
    ranking = sorted(table, key=lambda n: table[n]["net_profit_mean"], reverse=True)
    best_bot = max((n for n in table if n not in (*PPO_ROWS, "random")), key=lambda n: table[n]["net_profit_mean"])
    best = table[best_bot]["net_profit_mean"]
    return {
        "checkpoint": checkpoint, "training": training, "greedy_fit": greedy_fit, "eval_env": eval_env,
        "env_config": env_config.to_dict(),
        "seeds": f"{seed0}..{seed0 + episodes - 1}", "held_out": seed0 == HELD_OUT_SEED0,
        "table": table, "ranking": ranking, "ppo_rank": {row: ranking.index(row) + 1 for row in plays},
        "best_bot": best_bot,
        "ratios": {row: (table[row]["net_profit_mean"] / best if best > 0 else None) for row in plays},
        "ppo_beats_best_bot": {row: table[row]["net_profit_mean"] > best for row in plays},
        "ppo_eval_seconds": eval_seconds, "total_seconds": time.time() - t0,
    }


def fit_head(checkpoint: Path, generations: int | None, progress: bool = True, settings=None) -> dict | None:
    """The greedy head stage of bench learn: fit one into the checkpoint unless it has one (or
    generations is 0). Returns how it was fitted (the head's own record), None without a head."""
    import sys

    from prospector_common.policy.checkpoint import load
    from prospector_trainer.greedy_fit import FitSettings, fit_checkpoint

    data = load(checkpoint)
    if data.get("greedy_head") is not None:
        return {"fitted_before": True, **data["greedy_head"].get("fitted", {})}
    if settings is None:
        settings = FitSettings() if generations is None else FitSettings(generations=generations)
    if settings.generations <= 0:
        return None

    def show(row: dict) -> None:
        if progress:
            print(f"greedy head: generation {row['generation']}/{settings.generations}, population net profit "
                  f"mean {row['population_net_profit_mean']:,.0f}, {row['seconds']:.0f} s", file=sys.stderr)

    head = fit_checkpoint(checkpoint, settings, progress=show)
    return {"fitted_before": False, **head.fitted}


def training_of_checkpoint(checkpoint: Path) -> dict:
    """The curve, env steps and wall time of the run that wrote `checkpoint` (its run dir's
    metrics), for a model shipped from a checkpoint rather than from this invocation."""
    from prospector_common.policy.pretrained import checkpoint_rows

    rows = checkpoint_rows(checkpoint)
    seconds = sum(float(r.get("wall_time") or 0.0) for r in rows)
    steps = rows[-1]["env_steps_total"] if rows else None
    return {"env_steps": steps, "seconds": seconds or None, "sps": (steps / seconds) if steps and seconds else None,
            "curve": [{k: r.get(k) for k in ("window_id", "env_steps_total", "net_profit_mean", "net_profit_median",
                                             "survival_rate", "return_mean")} for r in rows]}


def print_bench_learn(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    tr = r["training"]
    game = "full game" if r["eval_env"] == "full" else "training env"
    kind = "held-out seeds" if r.get("held_out") else "seeds"
    title = f"{kind[0].upper()}{kind[1:]} {r['seeds']} ({game}, {r['env_config']['time_max']} ticks)"
    if tr:
        title += f"; PPO trained {tr['env_steps']:,} env steps in {tr['seconds'] / 60:.1f} min"
    t = Table(title=title)
    for col in ("rank", "policy", "net profit mean", "median", "survival", "profit/tick", "destroyed", "stranded"):
        t.add_column(col, justify="right")
    for i, name in enumerate(r["ranking"], 1):
        s = r["table"][name]
        label = ROW_LABELS.get(name, name)
        if name == "ppo_argmax" and "ppo_argmax_plain" not in r["table"]:
            label = "PPO (argmax)"  # no greedy head
        t.add_row(str(i), label, f"{s['net_profit_mean']:,.0f}", f"{s['net_profit_median']:,.0f}",
                  f"{s['survival_mean']:.2f}", f"{s['profit_per_tick_mean']:.2f}", f"{s['destroyed_mean']:.2f}",
                  f"{s['stranded_mean']:.2f}")
    console = Console(width=120)
    console.print(t)
    fit = r.get("greedy_fit")
    if fit:
        console.print(f"greedy head: {len(fit.get('population_net_profit_mean', []))} generations of evolution "
                      f"strategies, {fit.get('seconds', 0) / 60:.1f} min"
                      + (" (fitted before)" if fit.get("fitted_before") else ""))
    for row in r["ratios"]:
        ratio = r["ratios"][row]
        console.print(f"{row}: rank {r['ppo_rank'][row]} of {len(r['ranking'])}, "
                      f"{'' if ratio is None else f'{ratio:.2f}x '}the best bot ({r['best_bot']})")


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
                   help="training budget in env steps (default: the config's run.total_env_steps)")
    p.add_argument("--episodes", type=int, default=200, help="evaluation seeds (default 200)")
    p.add_argument("--seed0", type=int, default=HELD_OUT_SEED0,
                   help=f"first evaluation seed (default {HELD_OUT_SEED0:,}, the held-out range; "
                        f"tune on {TUNING_SEED0:,}.. instead)")
    p.add_argument("--checkpoint", default=None, help="skip training: evaluate this checkpoint")
    p.add_argument("--data-dir", default=None, help="where the training run goes (default: data root)")
    p.add_argument("--eval-env", choices=("full", "train"), default="full",
                   help="full: play the full 20000-tick game (default); train: the checkpoint's training env")
    p.add_argument("--greedy-generations", type=int, default=None, metavar="N",
                   help="generations of the greedy head's fit (default: prospector fit-greedy's); 0: no head, "
                        "ppo_argmax is then the plain argmax. A checkpoint that has a head keeps it")
    p.add_argument("--ship", default=None, metavar="DIR",
                   help="write the evaluated checkpoint as a model package (models/ppo-pretrained: "
                        "checkpoint, numpy export, card.json, MODEL_CARD.md, curve)")


def learn_main(args: argparse.Namespace) -> int:
    result = bench_learn(config=args.config, overrides=args.overrides, env_steps=args.env_steps,
                         episodes=args.episodes, seed0=args.seed0,
                         checkpoint=args.checkpoint, data_dir=args.data_dir, eval_env=args.eval_env,
                         greedy_generations=args.greedy_generations)
    if args.ship:
        import shlex
        import sys

        from prospector_common.policy.pretrained import is_package_checkpoint, write_package

        in_package = is_package_checkpoint(Path(args.ship), Path(result["checkpoint"]))
        if result["training"] is None and not in_package:  # its run's curve, from the run's metrics
            result["training_of_checkpoint"] = training_of_checkpoint(Path(result["checkpoint"]))
        command = "prospector " + " ".join(shlex.quote(a) for a in sys.argv[1:] if a != "--json")
        card = write_package(Path(args.ship), Path(result["checkpoint"]), result, command)
        print(f"model package written to {args.ship} (sha256 policy.pt {card['sha256']['policy.pt'][:12]}…)",
              file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_bench_learn(result)
    return 0
