"""ReferenceEnv: the pure-Python mirror of one C env (prospector.engine.Engine).

Slow and plain on purpose: it exists to agree with the C engine bit for bit
(`prospector parity`) and to be read next to it. numpy appears only here, as
the container of the outputs; the game logic is stdlib floats and `math`.
"""

from __future__ import annotations

import numpy as np

from prospector import spec
from prospector.spec import EnvConfig, as_config

from . import observe, step as step_mod
from .state import Config, Env


class ReferenceEnv:
    """One env: reset(seed), step(action), action_mask(), episode_metrics().

    step returns (obs float32 [260], reward, terminated, truncated), like
    Engine.step plus the observation; the engine's contract holds: any int
    is an action (out of range = invalid, carried out as HOLD), and a finished
    episode stays finished (reward 0) until reset.
    """

    def __init__(self, config: EnvConfig | dict | None = None, seed: int | None = 0):
        self.config = as_config(config)
        self.state: Env | None = None
        if seed is not None:
            self.reset(seed)

    def reset(self, seed: int = 0, config: EnvConfig | dict | None = None) -> np.ndarray:
        if config is not None:
            self.config = as_config(config)
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed must be in 0..2**64-1, got {seed}")
        self.state = step_mod.reset(Config.from_env_config(self.config), seed)
        return self.observation()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool]:
        reward, terminated, truncated = self.step_raw(action)
        return self.observation(), reward, terminated, truncated

    def step_raw(self, action: int) -> tuple[float, bool, bool]:
        """step without building the observation: (reward, terminated, truncated)."""
        return step_mod.step(self.state, int(action))

    # ---- views ---------------------------------------------------------------------

    def observation_bytes(self) -> bytes:
        """The 260 float32 exactly as pr_observe writes them (little-endian)."""
        return observe.observation_bytes(self.state)

    def observation(self) -> np.ndarray:
        return np.frombuffer(self.observation_bytes(), dtype="<f4").astype(np.float32)

    def action_mask(self) -> np.ndarray:
        return np.array(self.state.mask, dtype=np.uint8)

    def action_mask_bytes(self) -> bytes:
        return bytes(self.state.mask)

    def action_valid(self, action: int) -> bool:
        return observe.action_valid(self.state, int(action))

    def episode_metrics(self) -> list[float]:
        """Episode metrics in PR_M_* order (spec.METRIC_NAMES)."""
        return step_mod.episode_metrics(self.state)

    def metrics(self) -> dict[str, float]:
        return dict(zip(spec.METRIC_NAMES, self.episode_metrics()))

    @property
    def events(self):
        return self.state.events

    @property
    def seed(self) -> int:
        return self.state.seed

    @property
    def next_seed(self) -> int:
        return step_mod.next_seed(self.state.seed)

    @property
    def t(self) -> int:
        return self.state.t

    @property
    def done(self) -> bool:
        return self.state.done != 0

    @property
    def terminated(self) -> bool:
        return self.state.done == 1

    @property
    def truncated(self) -> bool:
        return self.state.done == 2
