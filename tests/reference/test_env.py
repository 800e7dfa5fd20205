"""ReferenceEnv: the Engine-like surface of the pure-Python reference."""

import numpy as np

from prospector import spec
from prospector.engine import Engine
from prospector.reference import ReferenceEnv
from prospector.spec import EnvConfig


def test_step_returns_float32_observation_reward_and_flags():
    env = ReferenceEnv(seed=3)
    obs, reward, terminated, truncated = env.step(spec.A_HOLD)
    assert obs.dtype == np.float32 and obs.shape == (spec.OBS_DIM,)
    assert isinstance(reward, float)
    assert (terminated, truncated) == (False, False)
    assert np.all(obs >= -1.0) and np.all(obs <= 1.0)


def test_mask_and_metrics_have_the_spec_shapes():
    env = ReferenceEnv(seed=3)
    mask = env.action_mask()
    assert mask.dtype == np.uint8 and mask.shape == (spec.N_ACTIONS,)
    assert mask[spec.A_HOLD] == 1 and mask[spec.A_CASH_OUT] == 1
    assert len(env.episode_metrics()) == spec.N_METRICS
    assert list(env.metrics()) == list(spec.METRIC_NAMES)


def test_invalid_and_out_of_range_actions_are_held_and_counted():
    env = ReferenceEnv(seed=5)
    for a in (-1, spec.N_ACTIONS, 10**6, spec.A_SELECT0 + 15):  # slot 15 never exists at the station
        _, reward, _, _ = env.step(a)
        assert env.events.flags & spec.EVENT_BITS["invalid"]
        assert env.events.applied_action == spec.A_HOLD
    assert env.metrics()["invalid_actions"] == 4.0


def test_a_finished_episode_stays_finished_with_zero_reward():
    env = ReferenceEnv(seed=1)
    _, reward, terminated, truncated = env.step(spec.A_CASH_OUT)
    assert terminated and not truncated
    metrics = env.episode_metrics()
    obs = env.observation_bytes()
    assert env.step(spec.A_HOLD)[1:] == (0.0, True, False)
    assert env.episode_metrics() == metrics and env.observation_bytes() == obs


def test_truncation_when_time_runs_out():
    env = ReferenceEnv(EnvConfig(time_max=3), seed=2)
    results = [env.step(spec.A_HOLD)[2:] for _ in range(3)]
    assert results == [(False, False), (False, False), (False, True)]
    assert env.truncated and env.t == 3


def test_same_seed_same_episode_and_next_seed_matches_the_engine():
    a, b = ReferenceEnv(seed=11), ReferenceEnv(seed=11)
    for action in [spec.A_TRAVEL0, spec.A_WIDE_SCAN, spec.A_SELECT0, spec.A_MINE0 + 2, spec.A_LISTEN]:
        assert a.step(action)[1] == b.step(action)[1]
    assert a.observation_bytes() == b.observation_bytes()
    assert a.next_seed == Engine(seed=11).next_seed
