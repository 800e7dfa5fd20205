"""Policies: PuffeRL's interface, optional action masking, forbidden cash-out, evaluation play."""

import numpy as np
import pytest
import torch

from prospector import spec
from prospector.engine import Batch, Engine
from prospector.rollout import play_batch
from prospector_common.policy.actor import Actor
from prospector_common.policy.network import make_policy, policy_input
from prospector_trainer.env import TrainerEnv


@pytest.mark.parametrize("kind", ["mlp", "lstm"])
def test_masked_policy_gives_invalid_actions_zero_probability(kind):
    env = TrainerEnv(num_envs=64, threads=1, mask_in_obs=True, seed=3)
    policy = make_policy(kind, 32, action_masking=True)
    obs = torch.from_numpy(env.observations.copy())
    state = {"lstm_h": None, "lstm_c": None} if kind == "lstm" else {}
    logits, value = policy.forward_eval(obs, state)
    assert logits.shape == (64, spec.N_ACTIONS) and value.shape == (64, 1)
    probs = torch.softmax(logits, -1).detach().numpy()
    assert (probs[~env.action_masks] == 0).all()
    assert np.allclose(probs.sum(-1), 1)
    # the learning pass (PuffeRL's forward: [segments, horizon, obs] for the LSTM, flat for the MLP)
    train_obs = obs.reshape(8, 8, -1) if kind == "lstm" else obs
    train_logits, _ = policy(train_obs, {"lstm_h": None, "lstm_c": None})
    assert (torch.softmax(train_logits, -1).detach().numpy()[~env.action_masks] == 0).all()


def test_mask_in_obs_env_publishes_engine_obs_and_mask_after_each_step():
    env = TrainerEnv(num_envs=32, threads=1, mask_in_obs=True, reward_scale=0.5, seed=1)
    plain = TrainerEnv(num_envs=32, threads=1, mask_in_obs=False, reward_scale=1.0, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = rng.integers(0, spec.N_ACTIONS, 32).astype(np.int32)
        env.step(a)
        plain.step(a)
        assert np.array_equal(env.observations[:, :spec.OBS_DIM], plain.observations)
        assert np.array_equal(env.observations[:, spec.OBS_DIM:], env.action_masks.astype(np.float32))
        assert np.allclose(env.rewards, 0.5 * plain.rewards)
        assert not (env.truncations & ~env.terminals).any()


def test_forbidden_cash_out_is_never_chosen():
    policy = make_policy("mlp", 32, forbid_cash_out=True)
    with torch.no_grad():
        policy.actor.bias[spec.A_CASH_OUT] = 100.0
    logits, _ = policy.forward_eval(torch.zeros(5, spec.OBS_DIM))
    assert (logits.argmax(-1) != spec.A_CASH_OUT).all()


@pytest.mark.parametrize("masking", [False, True])
def test_batched_evaluation_matches_playing_each_seed_alone(masking):
    torch.manual_seed(0)
    policy = make_policy("mlp", 32, action_masking=masking)
    config = {"time_max": 300}
    seeds = [11, 12, 13, 14]
    with Batch(len(seeds), config) as batch:
        batched = play_batch(Actor(policy, masking), batch, seeds)
    for seed, result in zip(seeds, batched):
        eng, actor = Engine(config, seed), Actor(policy, masking)
        while True:
            a = actor.act(eng.observation()[None], eng.action_mask()[None].astype(bool))[0]
            _, term, trunc = eng.step(a)
            if term or trunc:
                break
        expected = eng.metrics()
        for k in ("net_profit", "episode_steps", "episode_length", "invalid_actions"):
            assert result[k] == pytest.approx(expected[k], rel=1e-6), (seed, k)


def test_policy_input_appends_the_mask_only_when_masking():
    obs = np.zeros((2, spec.OBS_DIM), np.float32)
    mask = np.ones((2, spec.N_ACTIONS), bool)
    assert policy_input(obs, mask, False).shape == (2, spec.OBS_DIM)
    assert policy_input(obs, mask, True).shape == (2, spec.OBS_DIM + spec.N_ACTIONS)
