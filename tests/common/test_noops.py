"""No-op masking (policy/noops.py): which actions count as doing nothing, the torch twin agrees
with the numpy rules, and a masking policy never takes one."""

from __future__ import annotations

import numpy as np
import torch
from prospector import spec
from prospector_common.policy.network import make_policy, noop_actions as torch_noop_actions, policy_input
from prospector_common.policy.noops import EMPTY_CARGO, noop_actions

from .recorded import record_episodes


def random_play(seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    (episode,) = record_episodes((seed,), steps, time_max=3000)
    return episode


def test_the_rules_on_a_hand_made_observation():
    obs = np.zeros(spec.OBS_DIM, np.float32)
    slot = spec.asteroid_slot(3)
    obs[slot][spec.AST_VALID] = 1.0
    obs[slot][spec.AST_SELECTED] = 1.0                      # slot 3 selected
    obs[spec.asteroid_slot(4)][spec.AST_VALID] = 1.0        # slot 4 there, not selected
    obs[spec.OBS_CARGO.start + 2] = EMPTY_CARGO / 2         # a remainder of commodity 2
    obs[spec.OBS_CARGO.start + 5] = 10 / spec.CARGO_MAX     # ten units of commodity 5
    noop = noop_actions(obs)[0]
    assert noop[spec.A_SELECT0 + 3] and not noop[spec.A_SELECT0 + 4] and noop[spec.A_SELECT0 + 5]
    assert noop[spec.A_SELL0 + 3 * 2:spec.A_SELL0 + 3 * 2 + 3].all()
    assert not noop[spec.A_SELL0 + 3 * 5:spec.A_SELL0 + 3 * 5 + 3].any()
    assert noop[spec.A_HOLD] and noop[spec.A_DOCK]           # cold and quiet: nothing to rest for
    obs[spec.OBS_HEAT] = 0.3
    noop = noop_actions(obs)[0]
    assert not noop[spec.A_HOLD] and not noop[spec.A_DOCK]   # hot: holding cools
    # never touched: travel, mining, scans, listen, cooldown, the market's purchases
    always = [*range(spec.A_TRAVEL0, spec.A_HOLD), spec.A_MINE_STANDARD, spec.A_WIDE_SCAN, spec.A_LISTEN,
              spec.A_COOLDOWN, spec.A_BUY_FUEL0]
    assert not noop_actions(obs)[0][always].any()


def test_torch_twin_agrees_and_something_always_stays_valid():
    seen = 0
    for seed in (1, 2, 3):
        obs, masks = random_play(seed, 800)
        expected = noop_actions(obs)
        assert np.array_equal(torch_noop_actions(torch.from_numpy(obs)).numpy(), expected)
        # a policy input (mask flags appended) gives the same answer
        assert np.array_equal(noop_actions(policy_input(obs, masks, True)), expected)
        left = masks.astype(bool) & ~expected
        left[:, spec.A_CASH_OUT] = False
        assert left.any(axis=1).all()
        seen += int((masks.astype(bool) & expected).sum())
    assert seen > 100  # random play does meet valid no-ops


def test_a_noop_masking_policy_never_takes_one():
    torch.manual_seed(0)
    policy = make_policy("mlp", 32, action_masking=True, forbid_cash_out=True, mask_noops=True)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.5)
        # and make the no-ops the likeliest actions: the mask must still win
        policy.actor.bias[spec.A_HOLD] = policy.actor.bias[spec.A_DOCK] = 50.0
        policy.actor.bias[spec.A_SELECT0:spec.A_SELECT0 + spec.MAX_ASTEROIDS] = 50.0
    obs, masks = random_play(7, 600)
    with torch.no_grad():
        logits, _ = policy.forward_eval(torch.from_numpy(policy_input(obs, masks, True)))
    chosen = logits.argmax(-1).numpy()
    noop = noop_actions(obs)
    assert not noop[np.arange(len(chosen)), chosen].any()
    assert masks[np.arange(len(chosen)), chosen].all()
