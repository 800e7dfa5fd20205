"""Gymnasium env: one game over the C engine.

    env = ProspectorGymEnv(config=EnvConfig.curriculum(3))
    obs, info = env.reset(seed=7)          # engine seed 7: same episode as Engine(seed=7)
    obs, r, terminated, truncated, info = env.step(info["action_mask"].argmax())

info always carries "action_mask" (np.int8 [69]); the step that ends an
episode also carries "metrics" (SPEC section 7). Importing this module
registers the id "Prospector-v0" (gymnasium.make("Prospector-v0")), whose
vector entry point is prospector.gym_vector.ProspectorVectorEnv
(gymnasium.make_vec("Prospector-v0", num_envs=N): N games in one C batch).
"""

from __future__ import annotations

import numbers

import gymnasium
import numpy as np

from prospector import spec
from prospector.engine import Engine
from prospector.spec import EnvConfig, as_config

ENV_ID = "Prospector-v0"


def check_action(action) -> int:
    """The action as an int in 0..68; TypeError for a non-integer (bool and float
    included), ValueError for an integer out of range."""
    if isinstance(action, np.ndarray) and action.ndim == 0:
        action = action[()]
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, numbers.Integral):
        raise TypeError(f"action must be an integer in 0..{spec.N_ACTIONS - 1}, got {action!r} "
                        f"({type(action).__name__})")
    a = int(action)
    if not 0 <= a < spec.N_ACTIONS:
        raise ValueError(f"action must be in 0..{spec.N_ACTIONS - 1}, got {a}")
    return a


class ProspectorGymEnv(gymnasium.Env):
    """render_mode: None, "ansi" (render() returns a compact text view) or "rgb_array"
    (render() returns the sector map and gauges, uint8 [272, 400, 3]); both drawn by
    prospector.render from render_state(), numpy only."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, config: EnvConfig | dict | None = None, render_mode=None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, "
                             f"got {render_mode!r}")
        self.config = as_config(config)
        self.render_mode = render_mode
        self.observation_space = gymnasium.spaces.Box(
            low=-1.0, high=1.0, shape=(spec.OBS_DIM,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Discrete(spec.N_ACTIONS)
        self.engine = Engine(self.config, seed=0)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """seed: the engine seed (0..2**64-1); None draws one from the env's RNG.
        options: {"config": EnvConfig or dict} switches the config from now on."""
        super().reset(seed=seed)
        if options and options.get("config") is not None:
            self.config = as_config(options["config"])
        engine_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63))
        obs = self.engine.reset(engine_seed, self.config)
        return obs, {"action_mask": self._mask(), "seed": engine_seed}

    def step(self, action):
        reward, terminated, truncated = self.engine.step(check_action(action))
        info = {"action_mask": self._mask()}
        if terminated or truncated:
            info["metrics"] = self.engine.metrics()
        return self.engine.observation(), float(reward), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Current action mask as bool (the name sb3-contrib's MaskablePPO looks for)."""
        return self.engine.action_mask().astype(bool)

    def _mask(self) -> np.ndarray:
        return self.engine.action_mask().astype(np.int8)

    def render_state(self) -> dict:
        return self.engine.render_state()

    def render(self):
        if self.render_mode is None:
            return None
        from prospector import render

        state = self.engine.render_state()
        return render.render_text(state) if self.render_mode == "ansi" else render.render_rgb(state)

    def close(self):
        pass


if ENV_ID not in gymnasium.registry:
    # make_vec builds the native vector env (one C batch) unless told "sync" / "async"
    gymnasium.register(id=ENV_ID, entry_point="prospector.gym_env:ProspectorGymEnv",
                       vector_entry_point="prospector.gym_vector:ProspectorVectorEnv")
