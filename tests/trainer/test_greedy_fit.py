"""Fitting a greedy head (prospector_trainer.greedy_fit, `prospector fit-greedy`): real games in
worker processes, a small budget."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from prospector_common.policy import checkpoint as ckpt
from prospector_common.policy.greedy import N_PARAMS, GreedyHead
from prospector_trainer.greedy_fit import FitSettings, Fitter, centered_ranks, fit_checkpoint

from tests.common.test_policy_serving import make_checkpoint

KWARGS = dict(kind="mlp", hidden_size=32, action_masking=True, forbid_cash_out=True, forbid_jettison=True,
              mask_noops=True)
SMALL = FitSettings(generations=2, pairs=2, games=2, time_max=300)


def test_centered_ranks_ignore_the_scale():
    assert centered_ranks(np.array([10.0, -5.0, 1e9])).tolist() == [0.0, -0.5, 0.5]


def test_a_fit_writes_a_head_into_the_checkpoint_and_is_deterministic(tmp_path):
    path = make_checkpoint(tmp_path / "ckpt_4.pt", 3, **KWARGS)
    before = ckpt.load(path)
    rows = []
    head = fit_checkpoint(path, SMALL, progress=rows.append)
    data = ckpt.load(path)
    stored = GreedyHead.from_state(data["greedy_head"])
    assert np.array_equal(stored.vector(), head.vector()) and np.abs(head.vector()).max() > 0
    assert [r["generation"] for r in rows] == [1, 2]
    assert stored.fitted["settings"]["generations"] == 2 and len(stored.fitted["population_net_profit_mean"]) == 2
    for key in ("policy_state_dict", "run_id", "window_id", "env_steps"):  # the rest is unchanged
        assert str(data[key]) == str(before[key])
    again = fit_checkpoint(path, SMALL, out=tmp_path / "again.pt")
    assert np.array_equal(again.vector(), head.vector())


def test_the_fitter_scores_each_head_on_the_same_seeds(tmp_path):
    policy, data = ckpt.load_policy(make_checkpoint(tmp_path / "ckpt_4.pt", 3, **KWARGS))
    heads = np.zeros((2, N_PARAMS), np.float32)
    with Fitter(policy, data["policy_kwargs"], time_max=300) as fitter:
        same = fitter.play(heads, [7, 8, 9])
        alone = fitter.play(heads[:1], [7, 8, 9])
    assert same["net_profit"].shape == (2, 3)
    assert np.array_equal(same["net_profit"][0], same["net_profit"][1])  # equal heads, equal games
    assert np.array_equal(alone["net_profit"][0], same["net_profit"][0])  # split by seeds or by heads alike


def test_fit_greedy_command_names_a_missing_checkpoint(tmp_path):
    r = subprocess.run([sys.executable, "-m", "prospector", "fit-greedy", str(tmp_path / "nope.pt")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "nope.pt" in r.stderr and "does not exist" in r.stderr


@pytest.mark.parametrize("arg", ["--generations=0", "--games=0"])
def test_fit_greedy_command_refuses_an_empty_budget(tmp_path, arg):
    path = make_checkpoint(tmp_path / "ckpt_4.pt", 3, **KWARGS)
    r = subprocess.run([sys.executable, "-m", "prospector", "fit-greedy", str(path), arg],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "at least 1" in r.stderr
    assert "greedy_head" not in ckpt.load(path)
