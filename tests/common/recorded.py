"""Observations and masks of real play, for tests that feed a policy what the engine shows."""

from __future__ import annotations

import random

import numpy as np
from prospector import spec
from prospector.engine import Engine
from prospector.rollout import random_valid_action


def record_episodes(seeds=(3, 11, 42), steps: int = 250, time_max: int = 2000) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per episode, observations [t, 260] and masks [t, 69] (float32) of random valid play
    without CASH_OUT, at most `steps` of each."""
    episodes = []
    for seed in seeds:
        rng = random.Random(seed)
        engine = Engine(spec.EnvConfig(time_max=time_max), seed=seed)
        obs, masks = [], []
        while not engine.done and len(obs) < steps:
            obs.append(engine.observation().copy())
            masks.append(engine.action_mask().copy())
            engine.step(random_valid_action(rng, masks[-1], exclude=(spec.A_CASH_OUT,)))
        episodes.append((np.array(obs, np.float32), np.array(masks, np.float32)))
    return episodes
