"""PufferLib native vectorized env over the C engine's batch.

One ProspectorPufferEnv is num_envs games stepped by a single C call
(pr_batch_step_many) straight into PufferLib's own buffers: observations,
actions, rewards, terminals and truncations are bound zero-copy, so the same
class works alone, under pufferlib.vector.Serial and under
pufferlib.vector.Multiprocessing (which hands each worker slices of shared
memory as `buf`). Episodes auto-reset in C with the next seed of each env's
sequence; the action masks live in the extra array `self.action_masks`.

Seeding: reset(seed) starts env i with seed * num_envs + i, so the PufferEnvs
of a vector env (which PufferLib seeds seed, seed + 1, ...) never share a seed.

Infos follow PuffeRL's convention: a list of flat dicts of numbers that it
averages per key (it silently drops numpy arrays, so the values are floats).
Every `log_interval` steps, if episodes finished, the list holds one dict:
the mean of each episode metric over those episodes, plus "n", their count.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pufferlib

from prospector import spec
from prospector.engine import Batch, Engine
from prospector.spec import EnvConfig, as_config


class ProspectorPufferEnv(pufferlib.PufferEnv):
    def __init__(self, num_envs: int = 1, config: EnvConfig | dict | None = None, seed: int = 0,
                 threads: int = 1, buf=None, log_interval: int = 128, render_mode=None):
        self.single_observation_space = gymnasium.spaces.Box(
            low=-1.0, high=1.0, shape=(spec.OBS_DIM,), dtype=np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(spec.N_ACTIONS)
        self.num_agents = int(num_envs)
        self.render_mode = render_mode
        self.config = as_config(config)
        self.log_interval = max(1, int(log_interval))
        super().__init__(buf)  # sets self.observations, actions, rewards, terminals, truncations, masks

        self.action_masks = np.zeros((self.num_agents, spec.N_ACTIONS), dtype=np.bool_)
        self.batch = Batch(
            self.num_agents, self.config, threads,
            observations=self.observations, actions=self.actions, rewards=self.rewards,
            terminals=self.terminals, truncations=self.truncations, action_masks=self.action_masks,
        )
        self.base_seed = 0 if seed is None else int(seed)
        self.tick = 0
        self.reset(self.base_seed)

    def episode_seeds(self, seed: int) -> np.ndarray:
        """The seeds reset(seed) gives the envs: seed * num_envs + i."""
        n = self.num_agents
        return np.arange(n, dtype=np.uint64) + np.uint64(int(seed) * n)

    def reset(self, seed: int | None = None):
        if seed is None:
            seed = self.base_seed
        self.batch.reset(self.episode_seeds(seed))
        self.batch.read_log()  # episodes of before the reset do not count
        self.tick = 0
        return self.observations, []

    def step(self, actions):
        self.batch.step(actions)  # copies only when actions is not self.actions
        self.tick += 1
        infos = []
        if self.tick % self.log_interval == 0:
            info = self.log()
            if info:
                infos.append(info)
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def log(self) -> dict[str, float]:
        """Mean of each episode metric over the episodes finished since the last
        log, plus "n" (their count); {} when none finished. Clears the log."""
        count, sums, _ = self.batch.read_log()
        if count == 0:
            return {}
        info = {name: sums[name] / count for name in spec.METRIC_NAMES}
        info["n"] = float(count)
        return info

    def engine(self, i: int = 0) -> Engine:
        """An Engine view of env i (render_state, save, ...)."""
        return self.batch.engine(i)

    def render_state(self, i: int = 0) -> dict:
        return self.batch.engine(i).render_state()

    def close(self):
        self.batch.close()
