"""The env as the trainer sees it: ProspectorPufferEnv plus three bulk adjustments.

TrainerEnv is the bindings' native PufferEnv (all games stepped by one C call
with the engine's own threads) with, in numpy, once per batch step:

- reward_scale: rewards *= scale. PuffeRL clamps rewards to [-1, 1]; the
  shaped reward is credits / 1000, so without scaling every sale worth more
  than 1,000 credits looks the same to the learner, and being destroyed
  (-100) looks like being stranded (-50).
- truncation_as_terminal: terminals |= truncations. PuffeRL stores only
  terminals, so a time-out would be bootstrapped into the next episode. The
  remaining time is in the observation (obs[6]), so the time-out is a true
  terminal state of the game the policy sees.
- mask_in_obs: the observation is the 260 engine floats followed by the 69
  action-mask flags (0/1). PuffeRL's rollout buffer stores observations only,
  so this is how the mask reaches the policy both when acting and when the
  learner re-evaluates log-probabilities of stored actions. The engine writes
  its 260 floats into a private buffer; they are copied next to the mask.

The episode log is left to the trainer: `log_interval` is effectively
infinite, so the env never drains Batch.read_log() itself; the trainer reads
it (bulk: count, sums, recent records) once per epoch (see metrics.py).
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pufferlib
import pufferlib.vector

from prospector import spec
from prospector.engine import Batch
from prospector.puffer_env import ProspectorPufferEnv
from prospector.spec import EnvConfig, as_config

NEVER = 2**62  # log_interval: the env never reads the episode log itself


class TrainerEnv(ProspectorPufferEnv):
    def __init__(self, num_envs: int = 1, config: EnvConfig | dict | None = None, seed: int = 0,
                 threads: int = 1, buf=None, reward_scale: float = 1.0,
                 truncation_as_terminal: bool = True, mask_in_obs: bool = False, render_mode=None):
        self.reward_scale = float(reward_scale)
        self.truncation_as_terminal = bool(truncation_as_terminal)
        self.mask_in_obs = bool(mask_in_obs)
        if not self.mask_in_obs:
            super().__init__(num_envs, config, seed, threads, buf, log_interval=NEVER, render_mode=render_mode)
            self.engine_observations = self.observations
            return
        # Same as ProspectorPufferEnv.__init__, but the observation is 260 + 69 floats
        # and the engine writes its 260 into a buffer of its own.
        self.single_observation_space = gymnasium.spaces.Box(
            low=-1.0, high=1.0, shape=(spec.OBS_DIM + spec.N_ACTIONS,), dtype=np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(spec.N_ACTIONS)
        self.num_agents = int(num_envs)
        self.render_mode = render_mode
        self.config = as_config(config)
        self.log_interval = NEVER
        pufferlib.PufferEnv.__init__(self, buf)
        self.engine_observations = np.zeros((self.num_agents, spec.OBS_DIM), dtype=np.float32)
        self.action_masks = np.zeros((self.num_agents, spec.N_ACTIONS), dtype=np.bool_)
        self.batch = Batch(
            self.num_agents, self.config, threads,
            observations=self.engine_observations, actions=self.actions, rewards=self.rewards,
            terminals=self.terminals, truncations=self.truncations, action_masks=self.action_masks,
        )
        self.base_seed = 0 if seed is None else int(seed)
        self.tick = 0
        self.reset(self.base_seed)

    def _publish(self) -> None:
        if self.mask_in_obs:
            self.observations[:, :spec.OBS_DIM] = self.engine_observations
            self.observations[:, spec.OBS_DIM:] = self.action_masks

    def reset(self, seed: int | None = None):
        out = super().reset(seed)
        self._publish()
        return out

    def step(self, actions):
        out = super().step(actions)
        if self.reward_scale != 1.0:
            self.rewards *= self.reward_scale
        if self.truncation_as_terminal:
            np.logical_or(self.terminals, self.truncations, out=self.terminals)
        self._publish()
        return out


def make_vecenv(cfg, seed: int | None = None, env_config=None):
    """pufferlib.vector.Serial over one TrainerEnv holding all cfg.vec.num_envs games.

    Serial, not Multiprocessing: one process, the engine's native threads do
    the parallel stepping, and the trainer can read the episode log of the
    C batch directly (vecenv.driver_env.batch)."""
    kwargs = dict(num_envs=cfg.vec.num_envs, config=env_config or cfg.env_config, threads=cfg.vec.engine_threads,
                  reward_scale=cfg.ppo.reward_scale, truncation_as_terminal=cfg.ppo.truncation_as_terminal,
                  mask_in_obs=cfg.policy.action_masking)
    # (Serial first builds a "driver" env only to read its sizes; it is freed right after.)
    return pufferlib.vector.make(TrainerEnv, env_kwargs=kwargs, backend=pufferlib.vector.Serial, num_envs=1,
                                 seed=cfg.run.seed if seed is None else seed)


def batches(vecenv) -> list[Batch]:
    """The C batches of an in-process vector env (their episode logs)."""
    envs = getattr(vecenv, "envs", None) or [vecenv.driver_env]
    return [e.batch for e in envs]
