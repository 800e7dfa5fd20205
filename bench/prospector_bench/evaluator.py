"""`prospector bench eval`: the cost of evaluating and recording one full-length episode.

One episode of the full game at the default time budget (20000 ticks), sparse
reward, one C env, played by a policy (a checkpoint, or by default a fresh
MLP with action masking that never cashes out, so the episode runs to the
time limit), recorded frame by frame, encoded and written as a replay file.

Figures: seconds for the whole episode (play + record + encode + write),
frames (steps) per second, bytes per frame compressed, the same episode
played without recording (what recording costs), the size of the naive
encoding (full render state per frame, same gzip) for comparison, gzip
levels 1 / 6 / 9, and the replay's decoding and verification speed.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import tempfile
import time
from pathlib import Path

from .machine import describe


def _policy(checkpoint: str | None):
    import torch

    from prospector_common.policy.checkpoint import load_policy
    from prospector_common.policy.network import make_policy

    if checkpoint:
        policy, data = load_policy(Path(checkpoint))
        return policy, bool(data["policy_kwargs"].get("action_masking", False)), f"checkpoint {checkpoint}"
    torch.manual_seed(0)
    return (make_policy("mlp", 128, action_masking=True, forbid_cash_out=True), True,
            "fresh MLP 128 (seed 0), action masking, no CASH_OUT, greedy")


def _greedy(policy, masking: bool, seed: int):
    """The policy as a rollout Agent, playing its argmax."""
    from prospector.rollout import SingleGame
    from prospector_common.policy.actor import Actor

    return SingleGame(Actor(policy, masking, greedy=True, seed=seed))


def _play_only(policy, masking: bool, config, seed: int) -> tuple[int, float]:
    from prospector.engine import Engine
    from prospector.rollout import run_episode

    steps = 0

    def count(*_) -> None:
        nonlocal steps
        steps += 1

    t0 = time.perf_counter()
    run_episode(_greedy(policy, masking, seed), Engine(config, seed=seed), on_step=count)
    return steps, time.perf_counter() - t0


def run(seed: int = 0, time_max: int = 20_000, checkpoint: str | None = None, gzip_level: int | None = None,
        compare: bool = True) -> dict:
    import torch

    from prospector.spec import EnvConfig
    from prospector_common.replay import DEFAULT_GZIP_LEVEL, iter_frames, verify, write_replay
    from prospector_evaluator.evaluate import play_episode

    gzip_level = DEFAULT_GZIP_LEVEL if gzip_level is None else gzip_level
    torch.set_num_threads(1)
    policy, masking, described = _policy(checkpoint)
    config = EnvConfig(time_max=time_max, reward_mode="sparse")

    t0 = time.perf_counter()
    episode = play_episode(policy, masking, config, seed, gzip_level=gzip_level)
    t_play = time.perf_counter()
    data = episode.recorder.to_bytes(run_id="bench", window_id=0, replay_id="bench", seed=seed,
                                     env_config=config.to_dict(), policy={"described": described},
                                     summary={"metrics": episode.metrics})
    t_encode = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl.gz"
        write_replay(path, data)
        t_write = time.perf_counter()
        frames = episode.length
        result = {
            "policy": described,
            "seed": seed,
            "time_max": time_max,
            "frames": frames,
            "ticks": int(episode.recorder.initial_state["time_max"]) if episode.truncated else None,
            "full_length": episode.truncated,
            "episode_seconds": t_write - t0,
            "play_and_record_seconds": t_play - t0,
            "encode_seconds": t_encode - t_play,
            "write_seconds": t_write - t_encode,
            "frames_per_second": frames / (t_write - t0),
            "bytes": len(data),
            "bytes_per_frame": len(data) / max(1, frames),
            "gzip_level": gzip_level,
        }
        t = time.perf_counter()
        decoded = sum(1 for _ in iter_frames(path))
        result["decode_frames_per_second"] = decoded / (time.perf_counter() - t)
        t = time.perf_counter()
        check = verify(path)
        result["verify_seconds"] = time.perf_counter() - t
        result["verify_ok"] = check.ok
    if compare:
        steps, seconds = _play_only(policy, masking, config, seed)
        result["play_only_seconds"] = seconds
        result["play_only_steps_per_second"] = steps / seconds
        result["recording_overhead"] = result["episode_seconds"] / seconds - 1.0
        sizes = {}
        for level in (1, 6, 9):
            t = time.perf_counter()
            size = len(_with_level(episode.recorder, level).to_bytes())
            sizes[str(level)] = {"bytes_per_frame": size / max(1, frames), "seconds": time.perf_counter() - t}
        result["gzip_levels"] = sizes
        result["naive_bytes_per_frame"] = _naive_size(policy, masking, config, seed, gzip_level) / max(1, frames)
    result["machine"] = describe()
    return result


def _with_level(recorder, level):
    import copy

    other = copy.copy(recorder)
    other.gzip_level = level
    return other


def _naive_size(policy, masking: bool, config, seed: int, level: int) -> int:
    """Bytes of the same episode with the full render state in every frame (the baseline)."""
    from prospector.engine import Engine
    from prospector.rollout import run_episode

    engine = Engine(config, seed=seed)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=level, mtime=0) as f:
        f.write((json.dumps({"initial_state": engine.render_state()}) + "\n").encode())

        def write_frame(engine, action: int, reward: float) -> None:
            frame = {"t": engine.t, "action": action, "reward": reward, "events": engine.events(),
                     "state": engine.render_state()}
            f.write((json.dumps(frame, separators=(",", ":")) + "\n").encode())

        run_episode(_greedy(policy, masking, seed), engine, on_step=write_frame)
    return len(buf.getvalue())


def print_summary(r: dict) -> None:
    print(f"bench eval: one episode, {r['policy']}, seed {r['seed']}, time budget {r['time_max']} ticks")
    print(f"  frames {r['frames']}, full length: {r['full_length']}")
    print(f"  evaluate + record + write: {r['episode_seconds']:.2f} s  ({r['frames_per_second']:,.0f} frames/s)")
    print(f"    play+record {r['play_and_record_seconds']:.2f} s, encode {r['encode_seconds']:.2f} s, "
          f"write {r['write_seconds']:.3f} s")
    print(f"  compressed: {r['bytes']:,} bytes, {r['bytes_per_frame']:.1f} bytes/frame (gzip {r['gzip_level']})")
    if "play_only_seconds" in r:
        print(f"  play without recording: {r['play_only_seconds']:.2f} s; recording overhead "
              f"{100 * r['recording_overhead']:.0f} %")
        levels = ", ".join(f"{k}: {v['bytes_per_frame']:.1f} B/frame in {v['seconds']:.2f} s"
                           for k, v in r["gzip_levels"].items())
        print(f"  gzip levels: {levels}")
        print(f"  naive (full state per frame, gzip {r['gzip_level']}): {r['naive_bytes_per_frame']:.1f} bytes/frame")
    print(f"  decode {r['decode_frames_per_second']:,.0f} frames/s; verify {r['verify_seconds']:.2f} s "
          f"({'ok' if r['verify_ok'] else 'MISMATCH'})")


# ---- the command line (prospector_bench.cli) -------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    p.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    p.add_argument("--time-max", type=int, default=20_000, help="time budget in ticks (default 20000)")
    p.add_argument("--checkpoint", default=None, help="a trainer checkpoint (default: a fresh MLP)")
    p.add_argument("--gzip-level", type=int, default=None, help="gzip level of the replay (default 6)")
    p.add_argument("--quick", action="store_true", help="no comparisons (naive encoding, gzip levels)")


def main(args: argparse.Namespace) -> int:
    result = run(seed=args.seed, time_max=args.time_max, checkpoint=args.checkpoint,
                 gzip_level=args.gzip_level, compare=not args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_summary(result)
    return 0
