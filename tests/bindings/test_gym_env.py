"""prospector.gym_env: one game as a Gymnasium env."""

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from prospector import spec
from prospector.engine import Engine
from prospector.gym_env import ProspectorGymEnv
from prospector.spec import EnvConfig


def test_gymnasium_env_checker_passes():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*render.*")
        check_env(ProspectorGymEnv())
        check_env(gymnasium.make("Prospector-v0").unwrapped)


def test_gymnasium_make_builds_the_registered_env():
    env = gymnasium.make("Prospector-v0", config=EnvConfig(time_max=10))
    obs, info = env.reset(seed=2)
    assert obs.shape == (spec.OBS_DIM,) and obs.dtype == np.float32
    env.close()


@pytest.mark.parametrize("action", [True, np.bool_(False), 1.0, np.float32(3), "3", None, [3], np.array([3])])
def test_non_integer_action_raises_type_error(action):
    env = ProspectorGymEnv()
    env.reset(seed=0)
    with pytest.raises(TypeError, match="integer"):
        env.step(action)


@pytest.mark.parametrize("action", [-1, 69, 2**31, np.int64(-5), np.uint8(200)])
def test_out_of_range_action_raises_value_error(action):
    env = ProspectorGymEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="0..68"):
        env.step(action)


@pytest.mark.parametrize("action", [spec.A_HOLD, np.int64(6), np.int32(6), np.uint8(6), np.array(6)])
def test_integer_actions_of_any_integer_type_are_accepted(action):
    env = ProspectorGymEnv()
    env.reset(seed=0)
    obs, reward, term, trunc, info = env.step(action)
    assert isinstance(reward, float) and not term and not trunc


def test_info_carries_int8_action_mask_and_metrics_when_the_episode_ends():
    env = ProspectorGymEnv()
    obs, info = env.reset(seed=4)
    assert info["action_mask"].dtype == np.int8 and info["action_mask"].shape == (spec.N_ACTIONS,)
    obs, reward, term, trunc, info = env.step(spec.A_HOLD)
    assert "metrics" not in info
    obs, reward, term, trunc, info = env.step(spec.A_CASH_OUT)
    assert term and not trunc
    assert set(info["metrics"]) == set(spec.METRIC_NAMES)
    assert info["metrics"]["episode_steps"] == 2


def test_reset_seed_is_the_engine_seed_and_options_switch_config():
    env = ProspectorGymEnv()
    obs, _ = env.reset(seed=123)
    assert obs.tobytes() == Engine(seed=123).observation().tobytes()
    cfg = EnvConfig.curriculum(1, time_max=7)
    obs, _ = env.reset(seed=123, options={"config": cfg.to_dict()})
    assert env.config == cfg and obs.tobytes() == Engine(cfg, seed=123).observation().tobytes()
    for _ in range(7):
        _, _, term, trunc, info = env.step(spec.A_HOLD)
    assert trunc and not term and info["metrics"]["episode_length"] == 7


def test_unseeded_resets_are_reproducible_from_the_first_seed():
    a, b = ProspectorGymEnv(), ProspectorGymEnv()
    a.reset(seed=9)
    b.reset(seed=9)
    for _ in range(3):
        assert a.reset()[0].tobytes() == b.reset()[0].tobytes()


def test_render_state_is_available_from_the_gym_env():
    env = ProspectorGymEnv()
    env.reset(seed=1)
    assert env.render_state()["current_node"] == 0
