"""bench train and bench learn, at toy sizes."""

import pytest
from prospector.spec import EnvConfig
from prospector_bench.train import bench_learn, bench_train


def test_bench_train_reports_sps_and_where_the_time_goes():
    r = bench_train("tiny", quick=True, repeats=1, seconds=0.5)
    assert r["train_sps_median"] > 0 and len(r["train_sps_runs"]) == 1
    assert abs(r["collect_fraction"] + r["learn_fraction"] - 1) < 0.05
    assert set(r["time_split"]) >= {"env_step", "policy_inference", "learner_backward_and_step"}
    assert abs(sum(r["time_split"].values()) - 1) < 0.01 and r["time_split"]["env_step"] > 0


def test_bench_train_measures_an_lstm_serially_since_overlap_is_for_the_mlp():
    r = bench_train("tiny", ["policy.kind=lstm"], quick=True, repeats=1, seconds=0.5)
    assert r["settings"]["policy"] == "lstm"
    assert r["overlapped"] is None and r["overlap_speedup_median"] is None
    assert r["train_sps_median"] == r["serial"]["sps_median"] > 0


def test_bench_train_measures_serial_and_overlapped_epochs_side_by_side():
    r = bench_train("tiny", quick=True, repeats=2, seconds=0.5)
    assert r["serial"]["sps_median"] > 0 and r["overlapped"]["sps_median"] == r["train_sps_median"]
    assert len(r["serial"]["sps_runs"]) == len(r["overlapped"]["sps_runs"]) == 2
    paired = [o / s for s, o in zip(r["serial"]["sps_runs"], r["overlapped"]["sps_runs"])]
    assert r["overlap_speedup_runs"] == paired


def test_bench_learn_ranks_ppo_against_the_bots_on_the_same_seeds(tiny_run):
    _, _, paths = tiny_run
    r = bench_learn(checkpoint=str(paths.checkpoint(2)), episodes=2, seed0=1_000_000, greedy_generations=0)
    assert r["greedy_fit"] is None  # no head: ppo_argmax is the plain argmax, and there is no second row
    assert set(r["table"]) == {"ppo_sample", "ppo_argmax", "greedy_miner", "cautious_scanner", "market_timer",
                               "random"}
    assert sorted(r["ranking"]) == sorted(r["table"]) and all(1 <= k <= 6 for k in r["ppo_rank"].values())
    best = r["table"][r["best_bot"]]["net_profit_mean"]
    for row in ("ppo_sample", "ppo_argmax"):
        assert r["ppo_beats_best_bot"][row] == (r["table"][row]["net_profit_mean"] > best)
    assert all(s["episodes"] == 2 for s in r["table"].values())


def test_bench_learn_plays_the_full_game_unless_asked_for_the_training_env(tiny_run):
    cfg, _, paths = tiny_run
    full = bench_learn(checkpoint=str(paths.checkpoint(2)), episodes=1, seed0=1_000_000, greedy_generations=0)
    assert full["eval_env"] == "full"
    assert full["env_config"] == EnvConfig().to_dict()
    own = bench_learn(checkpoint=str(paths.checkpoint(2)), episodes=1, seed0=1_000_000, eval_env="train",
                      greedy_generations=0)
    assert own["env_config"] == cfg.env_config.replace(reward_mode="shaped").to_dict()
    with pytest.raises(ValueError, match="eval_env"):
        bench_learn(checkpoint=str(paths.checkpoint(2)), episodes=1, eval_env="stage 3")
