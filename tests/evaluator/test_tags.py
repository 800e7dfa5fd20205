"""Tags: best_so_far beats the run's best by a margin; each milestone the first time it is reached."""

from __future__ import annotations

from prospector_common.catalog import TAG_BEST_SO_FAR, TAG_EVERY_WINDOW
from prospector_evaluator.evaluate import EvalOptions, replay_tags

from .conftest import make_run


def metrics(profit: float, survival: float = 1.0) -> dict:
    return {"net_profit": profit, "survival": survival, "episode_return": profit}


def record(catalog, run_id, replay_id, profit, tags):
    catalog.add_replay(replay_id=replay_id, run_id=run_id, window_id=0, seed=1, return_=profit,
                       net_profit=profit, survival=True, length=10, tags=tags, path="x")


def test_best_so_far_and_milestones_follow_the_runs_history(settings, catalog):
    paths, _ = make_run(catalog, settings.data_dir, 1, checkpoints=False)
    run_id, opts = paths.run_id, EvalOptions(best_margin_abs=100.0, best_margin_rel=0.05)

    first = replay_tags(catalog, run_id, metrics(-50.0, survival=0.0), False, True, opts)
    assert first == [TAG_EVERY_WINDOW, TAG_BEST_SO_FAR]  # the first replay is the best so far
    record(catalog, run_id, "w000000-s1-00000001", -50.0, first)

    # not better by the margin: no best_so_far; full survival once, when the whole budget was survived
    tags = replay_tags(catalog, run_id, metrics(20.0), True, False, opts)
    assert tags == ["milestone:first_profit", "milestone:full_survival"]
    record(catalog, run_id, "w000000-s1-00000002", 20.0, tags)

    tags = replay_tags(catalog, run_id, metrics(1500.0), False, False, opts)
    assert tags == [TAG_BEST_SO_FAR, "milestone:profit_1k"]
    record(catalog, run_id, "w000000-s1-00000003", 1500.0, tags)

    # 5 % of 1500 is 75 < 100: the absolute margin applies
    assert TAG_BEST_SO_FAR not in replay_tags(catalog, run_id, metrics(1590.0), False, False, opts)
    tags = replay_tags(catalog, run_id, metrics(120_000.0), True, False, opts)
    assert tags == [TAG_BEST_SO_FAR, "milestone:profit_10k", "milestone:profit_100k"]
    record(catalog, run_id, "w000000-s1-00000004", 120_000.0, tags)
    # 5 % of 120k is 6000 > 100: the relative margin applies
    assert TAG_BEST_SO_FAR not in replay_tags(catalog, run_id, metrics(125_000.0), True, False, opts)
    assert TAG_BEST_SO_FAR in replay_tags(catalog, run_id, metrics(126_000.0), True, False, opts)
    # every milestone is taken now
    assert replay_tags(catalog, run_id, metrics(200_000.0), True, False, opts) == [TAG_BEST_SO_FAR]
