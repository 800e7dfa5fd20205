"""PufferLib native vectorized env over the C engine's batch.

One ProspectorPufferEnv is num_envs games stepped by a single C call
(pr_batch_step_many) straight into PufferLib's own buffers: observations,
actions, rewards, terminals and truncations are bound zero-copy, so the same
class works alone, under pufferlib.vector.Serial and under
pufferlib.vector.Multiprocessing (which hands each worker slices of shared
memory as `buf`). Episodes auto-reset in C with the next seed of each env's
sequence; the action masks live in the extra array `self.action_masks`.

Seeding: every game's engine seed is derived from the seed this PufferEnv is
given and the game's global index g (its row in the vector env's buffers):

    game_seed(s, g) = splitmix64(s * 2**32 + g)         (s < 2**32, g < 2**32)
                      splitmix64(splitmix64(s) ^ g)      (larger s: a 64-bit hash)

PufferLib hands its PufferEnvs overlapping seeds: Serial gives env j seed + j,
Multiprocessing gives worker i seed + i and, with several envs per worker, its
env j seed + i + j (worker 0's env 1 and worker 1's env 0 both get seed + 1).
The global index tells them apart: it is read from where this env's slice of
the buffers (`buf`) sits in the vector env's whole buffer (Serial's arrays,
or Multiprocessing's shared memory, [workers, agents per worker]). So the
games of one vector env never share a seed, whatever the backend and layout
(splitmix64 is a bijection of 64-bit words: distinct (s, g) give distinct
seeds for s < 2**32), consecutive vector seeds give disjoint sets of games
(no seed + i overlap), and the same vector seed and layout give the same
games again. A PufferEnv on its own (no buf) has g = 0, 1, ... for its games.
episode_seeds(seed) lists them.

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


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's output function of x + golden (uint64 arrays, wrapping): a bijection."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def game_seeds(seed: int, first: int, n: int) -> np.ndarray:
    """Engine seeds of the games with global indices first .. first + n - 1 for the
    PufferEnv seed `seed` (see the module docstring)."""
    seed = int(seed) % 2**64
    g = np.arange(first, first + n, dtype=np.uint64)
    if seed < 2**32 and first + n <= 2**32:
        return splitmix64((np.uint64(seed) << np.uint64(32)) | g)
    return splitmix64(splitmix64(np.array([seed], dtype=np.uint64)) ^ g)


def global_index(arr: np.ndarray) -> int:
    """Index of arr's first element within the whole array it is a view of (0 when it
    owns its data): where a PufferEnv's slice of a vector env's buffer begins."""
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    offset = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return int(offset // arr.itemsize)


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

    @property
    def first_game(self) -> int:
        """The global index of this env's first game in its vector env (rewards: one per game)."""
        return global_index(self.rewards)

    def episode_seeds(self, seed: int) -> np.ndarray:
        """The engine seeds reset(seed) gives the games (see the module docstring)."""
        return game_seeds(seed, self.first_game, self.num_agents)

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
