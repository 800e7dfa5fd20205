"""CleanRL-style PPO (one file, torch) on the native Gymnasium vector env, with action masking.

    python examples/cleanrl_ppo.py --total-steps 1000000 --num-envs 64 --stage 1

The env is gymnasium.make_vec("Prospector-v0", num_envs=N): N games in one C
batch (prospector.gym_vector.ProspectorVectorEnv). Its autoreset mode is
SAME_STEP: the step that ends a game returns the next game's first
observation, and the ended episode's metrics in info["final_info"], so the
loop below needs no special case (done flags cut the returns, as in CleanRL's
ppo.py). Invalid actions are masked out of the policy's logits with
info["action_mask"], which is stored with each step so the update evaluates
the same masked distribution. Prints the mean return of the episodes that
ended in the last iterations (and one JSON line with --json).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque

import gymnasium
import numpy as np
import prospector.gym_env  # noqa: F401  (registers Prospector-v0)
import torch
from prospector.spec import EnvConfig
from torch import nn
from torch.distributions import Categorical


def layer(n_in: int, n_out: int, std: float = np.sqrt(2)) -> nn.Linear:
    lin = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(lin.weight, std)
    nn.init.constant_(lin.bias, 0.0)
    return lin


class Agent(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 128):
        super().__init__()
        self.critic = nn.Sequential(layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(),
                                    layer(hidden, 1, 1.0))
        self.actor = nn.Sequential(layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(),
                                   layer(hidden, n_actions, 0.01))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def act(self, obs: torch.Tensor, mask: torch.Tensor, action: torch.Tensor | None = None):
        logits = self.actor(obs).masked_fill(~mask, -1e9)  # invalid actions: probability 0
        dist = Categorical(logits=logits)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.value(obs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total-steps", type=int, default=500_000)
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--num-steps", type=int, default=128, help="steps per env per rollout")
    p.add_argument("--stage", type=int, default=1, help="curriculum stage 1..5 (5: the full game)")
    p.add_argument("--time-max", type=int, default=2000, help="ticks per episode")
    p.add_argument("--lr", type=float, default=2.5e-4)
    p.add_argument("--gamma", type=float, default=0.995)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--minibatches", type=int, default=4)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--clip", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--json", action="store_true", help="also print one JSON line of results")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.torch_threads)
    config = EnvConfig.curriculum(args.stage, time_max=args.time_max)
    envs = gymnasium.make_vec("Prospector-v0", num_envs=args.num_envs, config=config)
    obs_dim = envs.single_observation_space.shape[0]
    n_actions = envs.single_action_space.n
    agent = Agent(obs_dim, n_actions)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)

    n, t_steps = args.num_envs, args.num_steps
    obs_buf = torch.zeros((t_steps, n, obs_dim))
    mask_buf = torch.zeros((t_steps, n, n_actions), dtype=torch.bool)
    act_buf = torch.zeros((t_steps, n), dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros((t_steps, n)) for _ in range(4))

    next_obs_np, info = envs.reset(seed=args.seed)
    next_obs = torch.as_tensor(next_obs_np)
    next_mask = torch.as_tensor(info["action_mask"] != 0)
    next_done = torch.zeros(n)
    recent = deque(maxlen=100)  # returns of the latest finished episodes
    iterations = max(1, args.total_steps // (n * t_steps))
    batch_size = n * t_steps
    mb_size = max(1, batch_size // args.minibatches)
    start = time.perf_counter()
    for it in range(iterations):
        for t in range(t_steps):
            obs_buf[t], mask_buf[t], done_buf[t] = next_obs, next_mask, next_done
            with torch.no_grad():
                action, logp, _, value = agent.act(next_obs, next_mask)
            act_buf[t], logp_buf[t], val_buf[t] = action, logp, value
            next_obs_np, reward, terminated, truncated, info = envs.step(action.numpy())
            rew_buf[t] = torch.as_tensor(reward)
            next_obs = torch.as_tensor(next_obs_np)
            next_mask = torch.as_tensor(info["action_mask"] != 0)
            next_done = torch.as_tensor(terminated | truncated, dtype=torch.float32)
            if "final_info" in info:
                ended = info["_final_info"]
                recent.extend(info["final_info"]["metrics"]["episode_return"][ended].tolist())

        with torch.no_grad():  # GAE
            next_value = agent.value(next_obs)
            adv = torch.zeros_like(rew_buf)
            last = torch.zeros(n)
            for t in reversed(range(t_steps)):
                nonterminal = 1.0 - (next_done if t == t_steps - 1 else done_buf[t + 1])
                nv = next_value if t == t_steps - 1 else val_buf[t + 1]
                delta = rew_buf[t] + args.gamma * nv * nonterminal - val_buf[t]
                last = delta + args.gamma * args.gae_lambda * nonterminal * last
                adv[t] = last
            returns = adv + val_buf

        b_obs, b_mask = obs_buf.reshape(batch_size, obs_dim), mask_buf.reshape(batch_size, n_actions)
        b_act, b_logp = act_buf.reshape(-1), logp_buf.reshape(-1)
        b_adv, b_ret = adv.reshape(-1), returns.reshape(-1)
        for _ in range(args.epochs):
            perm = torch.randperm(batch_size)
            for k in range(0, batch_size, mb_size):
                idx = perm[k:k + mb_size]
                _, new_logp, entropy, value = agent.act(b_obs[idx], b_mask[idx], b_act[idx])
                ratio = (new_logp - b_logp[idx]).exp()
                a = b_adv[idx]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip, 1 + args.clip)).mean()
                v_loss = 0.5 * ((value - b_ret[idx]) ** 2).mean()
                loss = pg_loss + args.vf_coef * v_loss - args.ent_coef * entropy.mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
        if recent and (it + 1) % max(1, iterations // 10) == 0:
            print(f"iteration {it + 1}/{iterations}: mean_episode_return {np.mean(recent):.4f} "
                  f"({len(recent)} recent episodes)", flush=True)
    seconds = time.perf_counter() - start
    envs.close()
    steps = iterations * batch_size
    mean_return = float(np.mean(recent)) if recent else float("nan")
    print(f"trained {steps} steps in {seconds:.1f}s ({steps / seconds:,.0f} steps/s); "
          f"mean_episode_return {mean_return:.4f} over the last {len(recent)} episodes")
    if args.json:
        print(json.dumps({"total_steps": steps, "seconds": seconds, "episodes": len(recent),
                          "mean_episode_return": mean_return if recent else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
