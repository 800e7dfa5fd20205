"""The baseline bots: profitable, with different risk profiles; random is not."""

import json
import statistics
import subprocess
import sys

import numpy as np
import pytest

from prospector import spec
from prospector.bots import BOTS, CautiousScanner, GreedyMiner, MarketTimer, RandomBot, run_episode

SEEDS = range(12)


@pytest.fixture(scope="module")
def results():
    return {name: [run_episode(cls(), s) for s in SEEDS] for name, cls in BOTS.items()}


def mean(rows, key):
    return statistics.fmean(r[key] for r in rows)


@pytest.mark.parametrize("name", [GreedyMiner.name, CautiousScanner.name, MarketTimer.name])
def test_each_bot_makes_a_profit_on_average(results, name):
    assert mean(results[name], "net_profit") > 0


def test_cautious_scanner_survives_more_often_than_greedy_miner(results):
    assert mean(results[CautiousScanner.name], "survival") > mean(results[GreedyMiner.name], "survival")


def test_cautious_scanner_scans_and_greedy_miner_does_not(results):
    assert mean(results[CautiousScanner.name], "scan_count") > 0
    assert mean(results[GreedyMiner.name], "scan_count") == 0


def test_random_policy_mostly_loses_money_or_dies():
    rows = [run_episode(RandomBot(), s) for s in range(60)]
    bad = [r["net_profit"] < 0 or r["survival"] < 1 for r in rows]
    assert sum(bad) > len(rows) / 2


def test_bots_only_return_actions_in_range():
    rng = np.random.default_rng(0)
    for cls in BOTS.values():
        bot = cls()
        bot.reset(1)
        for _ in range(50):
            obs = rng.uniform(-1, 1, spec.OBS_DIM).astype(np.float32)
            mask = rng.integers(0, 2, spec.N_ACTIONS).astype(np.int8)
            assert 0 <= bot.act(obs, mask) < spec.N_ACTIONS


def test_bots_command_prints_one_json_summary_per_bot():
    out = subprocess.run([sys.executable, "-m", "prospector.cli", "bots", "--episodes", "3", "--json", "--workers", "1"],
                         capture_output=True, text=True, check=True).stdout
    summary = json.loads(out)
    assert set(summary) == set(BOTS)
    for row in summary.values():
        assert row["episodes"] == 3
        for key in ("net_profit_mean", "net_profit_median", "survival_mean", "profit_per_tick_mean",
                    "overheat_ticks_mean", "pirate_encounters_mean"):
            assert key in row
