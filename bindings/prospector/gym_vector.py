"""Gymnasium vector env: N games stepped by one C call (the engine's Batch).

    envs = gymnasium.make_vec("Prospector-v0", num_envs=256)   # this class
    obs, info = envs.reset(seed=7)          # game i starts from engine seed 7 + i
    obs, rewards, terminations, truncations, info = envs.step(actions)

gymnasium.make_vec("Prospector-v0", ...) builds this class (the id's
`vector_entry_point`); vectorization_mode="sync" / "async" still wraps N
ProspectorGymEnv in Python, and plays the same games, only slower.

Autoreset: AutoresetMode.SAME_STEP, what the C batch does. The step that ends
a game returns that step's reward and terminated/truncated flag, and the first
observation of the game's next episode, which starts at once with the next
seed of the game's sequence (Engine.next_seed). The ended episode's final
observation and metrics come in info, as Gymnasium's SyncVectorEnv gives them
in that mode:

    info["final_obs"]       object array [N]: row i the final observation (float32 [260])
                            of game i if its episode ended this step, else None
    info["final_info"]      {"metrics": {name: float64 [N]}, "_metrics": bool [N]}
                            the final episode metrics (SPEC section 7) of the ended games
    info["_final_obs"], info["_final_info"]    bool [N]: which games ended

Every reset and step also gives info["action_mask"] (np.int8 [N, 69], as the
single env's) and info["seed"] (np.uint64 [N], the engine seed of the episodes
that started: every game at reset, the auto-reset games at a step), each with
its `_key` boolean array.

Seeding: reset(seed=s) starts game i from engine seed s + i, exactly what
SyncVectorEnv does with N single envs (and Batch.reset(s)); a sequence of N
seeds sets each game's own; seed=None draws N seeds from the env's np_random.
Auto-resets then follow each game's own seed sequence.

Actions: an integer array of shape (N,) in 0..68; anything else raises (TypeError
for non-integers and bools, ValueError for a wrong shape or an action out of
range), as ProspectorGymEnv does for one action. Invalid-but-in-range actions
(masked out) are the engine's business: HOLD plus the invalid-action penalty.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from prospector import spec
from prospector._engine import lib
from prospector.engine import Batch
from prospector.spec import EnvConfig, as_config


def check_actions(actions, n: int) -> np.ndarray:
    """The actions as an integer array of shape (n,), each in 0..68; TypeError for
    non-integers (bool and float included), ValueError for a wrong shape or range."""
    a = actions if isinstance(actions, np.ndarray) else np.asarray(actions)
    if a.dtype.kind not in "iu":
        raise TypeError(f"actions must be integers in 0..{spec.N_ACTIONS - 1}, got dtype {a.dtype}")
    if a.shape != (n,):
        raise ValueError(f"actions must have shape ({n},), got {a.shape}")
    # one reduction: as unsigned, a negative action is larger than any valid one
    top = (a.view(np.dtype(f"u{a.itemsize}")) if a.dtype.kind == "i" else a).max()
    if top >= spec.N_ACTIONS:
        bad = int(np.flatnonzero((a < 0) | (a >= spec.N_ACTIONS))[0])
        raise ValueError(f"action must be in 0..{spec.N_ACTIONS - 1}, got {int(a[bad])} for env {bad}")
    return a


class ProspectorVectorEnv(VectorEnv):
    """num_envs games in one C batch (see the module docstring).

    config: EnvConfig, dict or None (the full game); threads: the engine's
    native worker threads (1: step on the calling thread); copy: return copies
    of the batch's buffers (True, as SyncVectorEnv) or the buffers themselves,
    which the next step overwrites (False: a little faster).
    """

    metadata = {
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(self, num_envs: int = 1, config: EnvConfig | dict | None = None, threads: int = 1,
                 render_mode: str | None = None, copy: bool = True):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, "
                             f"got {render_mode!r}")
        self.num_envs = int(num_envs)
        self.config = as_config(config)
        self.render_mode = render_mode
        self.copy = bool(copy)
        self.single_observation_space = gymnasium.spaces.Box(
            low=-1.0, high=1.0, shape=(spec.OBS_DIM,), dtype=np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(spec.N_ACTIONS)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        n = self.num_envs
        self._masks = np.zeros((n, spec.N_ACTIONS), dtype=np.uint8)  # viewed as int8 in info
        self.batch = Batch(n, self.config, threads, action_masks=self._masks)
        self._final_obs, self._final_metrics = self.batch.keep_final()
        self._all = np.ones(n, dtype=np.bool_)
        self._started = False

    # ---- reset / step -----------------------------------------------------------------

    def _seeds(self, seed) -> np.ndarray:
        n = self.num_envs
        if seed is None:
            return self.np_random.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
        if np.ndim(seed) == 0:
            if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
                raise TypeError(f"seed must be an int, a sequence of {n} ints or None, got {seed!r}")
            base = int(seed)
            if not 0 <= base <= 2**64 - n:
                raise ValueError(f"seed must be in 0..2**64-{n} (game i gets seed + i), got {base}")
            return np.arange(n, dtype=np.uint64) + np.uint64(base)
        seeds = [int(s) for s in seed]
        if len(seeds) != n:
            raise ValueError(f"need {n} seeds, got {len(seeds)}")
        if any(not 0 <= s < 2**64 for s in seeds):
            raise ValueError("seeds must be in 0..2**64-1")
        return np.array(seeds, dtype=np.uint64)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        """Start a new episode in every game. seed: an int (game i gets seed + i),
        N ints, or None (N seeds drawn from np_random). options: {"config":
        EnvConfig or dict} switches the config from now on."""
        seeds = self._seeds(seed)  # checked before anything changes
        if seed is not None and np.ndim(seed) == 0:
            super().reset(seed=int(seed))  # seeds np_random (used by later seed=None resets)
        if options and options.get("config") is not None:
            self.config = as_config(options["config"])
            self.batch.set_config(self.config)
        self.batch.reset(seeds)
        self._started = True
        info = {"action_mask": self._out(self._masks).view(np.int8), "_action_mask": self._all.copy(),
                "seed": seeds, "_seed": self._all.copy()}
        return self._out(self.batch.observations), info

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        b = self.batch
        np.copyto(b.actions, check_actions(actions, self.num_envs), casting="unsafe")  # in range: exact
        b.step()
        terminated, truncated = b.terminals, b.truncations
        info: dict[str, Any] = {"action_mask": self._out(self._masks).view(np.int8), "_action_mask": self._all.copy()}
        ended = terminated | truncated
        if ended.any():
            info.update(self._final(ended.nonzero()[0], ended))
        return (self._out(b.observations), self._out(b.rewards), self._out(terminated),
                self._out(truncated), info)

    def _final(self, rows: np.ndarray, ended: np.ndarray) -> dict:
        """The info entries of the games in `rows` (those whose episode just ended)."""
        n = self.num_envs
        final_obs = np.empty(n, dtype=object)  # None where no episode ended
        batch = self.batch._live()
        seeds = np.zeros(n, dtype=np.uint64)
        for i in rows.tolist():
            final_obs[i] = self._final_obs[i].copy()
            seeds[i] = lib.pr_batch_env(batch, i).seed  # the new episode's
        metrics = np.zeros((n, spec.N_METRICS), dtype=np.float64)
        metrics[rows] = self._final_metrics[rows]
        metrics = metrics.T  # one row per metric (views of the one array)
        return {"final_obs": final_obs, "_final_obs": ended,
                "final_info": {"metrics": dict(zip(spec.METRIC_NAMES, metrics)), "_metrics": ended.copy()},
                "_final_info": ended.copy(), "seed": seeds, "_seed": ended.copy()}

    def _out(self, arr: np.ndarray) -> np.ndarray:
        return arr.copy() if self.copy else arr

    # ---- the rest ---------------------------------------------------------------------------

    def action_masks(self) -> np.ndarray:
        """The current action masks as bool [N, 69] (a new array)."""
        return self._masks.astype(bool)

    def render_state(self, i: int = 0) -> dict:
        """Engine.render_state() of game i."""
        return self.batch.engine(i).render_state()

    def render(self):
        """render_mode "ansi": one text view per game (a tuple of str); "rgb_array":
        one image per game (a tuple of uint8 [H, W, 3]); None: nothing."""
        if self.render_mode is None:
            return None
        from prospector import render as _render

        draw = _render.render_text if self.render_mode == "ansi" else _render.render_rgb
        return tuple(draw(self.batch.engine(i).render_state()) for i in range(self.num_envs))

    def close_extras(self, **kwargs):
        self.batch.close()
