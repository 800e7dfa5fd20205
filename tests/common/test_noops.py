"""No-op masking (policy/noops.py): which actions count as doing nothing, the torch twin agrees
with the numpy rules, and a masking policy never takes one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from prospector import spec
from prospector_common.policy.network import idle_actions as torch_idle_actions
from prospector_common.policy.network import make_policy, noop_actions as torch_noop_actions, policy_input
from prospector_common.policy.noops import EMPTY_CARGO, idle_actions, noop_actions

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


@pytest.mark.parametrize("rules, torch_twin", [(noop_actions, torch_noop_actions),
                                               (idle_actions, torch_idle_actions)], ids=["noops", "idle"])
def test_torch_twin_agrees_and_a_way_out_always_stays_valid(rules, torch_twin):
    seen = 0
    for seed in (1, 2, 3):
        obs, masks = random_play(seed, 800)
        expected = rules(obs)
        assert np.array_equal(torch_twin(torch.from_numpy(obs)).numpy(), expected)
        # a policy input (mask flags appended) gives the same answer
        assert np.array_equal(rules(policy_input(obs, masks, True)), expected)
        # with both sets masked, some travel is left in every state
        left = masks.astype(bool) & ~noop_actions(obs) & ~idle_actions(obs)
        assert left[:, spec.A_TRAVEL0:spec.A_HOLD].any(axis=1).all()
        seen += int((masks.astype(bool) & expected).sum())
    assert seen > 100  # random play does meet them


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


def test_the_idle_rules_on_a_hand_made_observation():
    obs = np.zeros(spec.OBS_DIM, np.float32)
    obs[[spec.OBS_FUEL, spec.OBS_HULL, spec.OBS_TOOL]] = 1.0     # full tank, whole hull and tool
    obs[spec.OBS_AT_STATION] = 1.0
    obs[spec.OBS_REPAIR_KITS] = 1.0                               # ten or more kits
    obs[spec.OBS_STABILIZERS] = 0.3
    idle = idle_actions(obs)[0]
    assert idle[spec.A_LISTEN] and idle[spec.A_COOLDOWN] and idle[spec.A_OVERHAUL]
    assert idle[spec.A_BUY_FUEL0:spec.A_BUY_FUEL0 + 3].all()
    assert idle[spec.A_TOOL_MAINT] and idle[spec.A_HULL_PATCH] and idle[spec.A_BUY_KIT]
    assert not idle[spec.A_BUY_STABILIZER] and not idle[spec.A_BUY_DECOY]
    assert not idle[spec.A_TRAVEL0:spec.A_HOLD].any() and not idle[spec.A_SELL0:spec.A_BUY_FUEL0].any()
    # away from the station, a little hot, worn and low on fuel: each of them does something
    obs[spec.OBS_AT_STATION] = 0.0
    obs[[spec.OBS_FUEL, spec.OBS_HULL, spec.OBS_TOOL, spec.OBS_HEAT]] = [0.6, 0.9, 0.99, 0.01]
    idle = idle_actions(obs)[0]
    assert not idle[[spec.A_LISTEN, spec.A_COOLDOWN, spec.A_OVERHAUL, spec.A_BUY_FUEL0, spec.A_TOOL_MAINT,
                     spec.A_HULL_PATCH]].any()
    obs[spec.OBS_HULL] = 1.0
    idle = idle_actions(obs)[0]
    assert idle[spec.A_HULL_PATCH] and not idle[spec.A_OVERHAUL]  # the tool still wants the overhaul


def test_an_idle_masking_policy_never_takes_one():
    torch.manual_seed(1)
    policy = make_policy("mlp", 32, action_masking=True, forbid_cash_out=True, mask_noops=True, mask_idle=True)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.5)
        for a in (spec.A_LISTEN, spec.A_COOLDOWN, spec.A_BUY_FUEL0, spec.A_OVERHAUL, spec.A_HULL_PATCH):
            policy.actor.bias[a] = 50.0  # the likeliest, were it not for the mask
    obs, masks = random_play(8, 600)
    with torch.no_grad():
        logits, _ = policy.forward_eval(torch.from_numpy(policy_input(obs, masks, True)))
    chosen = logits.argmax(-1).numpy()
    rows = np.arange(len(chosen))
    assert not idle_actions(obs)[rows, chosen].any()
    assert masks[rows, chosen].all()
    assert np.isin(chosen, (spec.A_LISTEN, spec.A_COOLDOWN)).any()  # where they are not idle, still taken
