"""MaskablePPO (sb3-contrib) on Prospector-v0, with the env's action mask.

    pip install stable-baselines3 sb3-contrib          # (requirements-dev.txt)
    python examples/sb3_maskable_ppo.py --total-steps 200000 --stage 1

MaskablePPO asks the env for `action_masks()`, which ProspectorGymEnv has (the
current mask as bool [69]), so no wrapper is needed. Trains on --n-envs copies
in SB3's DummyVecEnv, then plays --eval-episodes greedy episodes with the mask
and prints their mean return (and one JSON line with --json).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total-steps", type=int, default=100_000, help="env steps to train for")
    p.add_argument("--n-envs", type=int, default=4)
    p.add_argument("--stage", type=int, default=1, help="curriculum stage 1..5 (5: the full game)")
    p.add_argument("--time-max", type=int, default=2000, help="ticks per episode")
    p.add_argument("--eval-episodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads (small nets: 1 is fastest)")
    p.add_argument("--json", action="store_true", help="also print one JSON line of results")
    args = p.parse_args(argv)

    import torch
    from prospector.gym_env import ProspectorGymEnv
    from prospector.spec import EnvConfig
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(args.torch_threads)
    config = EnvConfig.curriculum(args.stage, time_max=args.time_max)
    env = make_vec_env(ProspectorGymEnv, n_envs=args.n_envs, seed=args.seed, env_kwargs={"config": config})
    n_steps = max(16, min(256, args.total_steps // args.n_envs))
    model = MaskablePPO("MlpPolicy", env, n_steps=n_steps, batch_size=min(256, n_steps * args.n_envs),
                        learning_rate=3e-4, gamma=0.995, seed=args.seed, verbose=0, device="cpu")
    t0 = time.perf_counter()
    model.learn(total_timesteps=args.total_steps)
    train_seconds = time.perf_counter() - t0

    returns = []
    eval_env = ProspectorGymEnv(config=config)
    for episode in range(args.eval_episodes):
        obs, _ = eval_env.reset(seed=10_000 + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, action_masks=get_action_masks(eval_env), deterministic=True)
            obs, reward, terminated, truncated, _ = eval_env.step(int(action))
            total += reward
            done = terminated or truncated
        returns.append(total)
    mean_return = float(np.mean(returns))
    print(f"trained {args.total_steps} steps in {train_seconds:.1f}s; "
          f"mean_episode_return {mean_return:.4f} over {len(returns)} greedy episodes")
    if args.json:
        print(json.dumps({"total_steps": args.total_steps, "train_seconds": train_seconds,
                          "mean_episode_return": mean_return, "returns": returns}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
