"""prospector.rollout, the one loop that plays an agent to the end of an episode, and the
one way to pick a random valid action: the same as doing it by hand."""

import random

import numpy as np
import pytest

from prospector import spec
from prospector.bots import GreedyMiner, MarketTimer, RandomBot
from prospector.engine import Batch, Engine
from prospector.rollout import play_batch, random_valid_action, random_valid_actions, run_episode, valid_actions

SEEDS = (0, 3, 11)


def by_hand(bot, seed: int, max_steps: int | None = None) -> tuple[dict, list[tuple[int, float]]]:
    """The loop run_episode replaces: (episode metrics, [(action, reward)] of every step)."""
    engine = Engine(seed=seed)
    bot.reset(seed)
    steps = []
    while not engine.done and (max_steps is None or len(steps) < max_steps):
        action = bot.act(engine.observation(), engine.action_mask())
        reward, _, _ = engine.step(action)
        steps.append((action, reward))
    return engine.metrics(), steps


@pytest.mark.parametrize("bot_class", [GreedyMiner, RandomBot])
@pytest.mark.parametrize("seed", SEEDS)
def test_run_episode_equals_stepping_by_hand(bot_class, seed):
    want, _ = by_hand(bot_class(), seed)
    engine = Engine(seed=99)  # run_episode resets it to the seed
    assert run_episode(bot_class(), engine, seed) == want
    assert engine.done


def test_run_episode_without_a_seed_plays_the_engine_as_it_is():
    want, _ = by_hand(MarketTimer(), 5)
    assert run_episode(MarketTimer(), Engine(seed=5)) == want


def test_max_steps_stops_the_episode_early():
    engine = Engine()
    calls = []
    metrics = run_episode(GreedyMiner(), engine, 0, max_steps=7, on_step=lambda *args: calls.append(args))
    assert len(calls) == 7 and not engine.done
    want, _ = by_hand(GreedyMiner(), 0, max_steps=7)
    assert metrics == want


@pytest.mark.parametrize("seed", SEEDS)
def test_on_step_is_called_once_per_step_with_its_action_and_reward(seed):
    engine = Engine()
    seen = []

    def on_step(eng, action, reward):
        assert eng is engine
        seen.append((action, reward))

    run_episode(RandomBot(), engine, seed, on_step=on_step)
    _, want = by_hand(RandomBot(), seed)
    assert seen == want and engine.done


class BotRows:
    """Bots as a BatchAgent: one bot per row, each reset to its row's seed."""

    def __init__(self, bot_class, seeds):
        self.bot_class, self.seeds = bot_class, list(seeds)

    def start(self, n):
        assert n == len(self.seeds)
        self.bots = [self.bot_class() for _ in range(n)]
        for bot, seed in zip(self.bots, self.seeds):
            bot.reset(seed)

    def act(self, observations, masks):
        return np.array([bot.act(o, m) for bot, o, m in zip(self.bots, observations, masks)], dtype=np.int32)

    def episodes_ended(self, rows):
        self.ended = getattr(self, "ended", 0) + len(rows)


def as_float32(metrics: dict) -> dict:
    """The batch's episode log keeps metrics as float32 (core_c's log ring), an Engine's are
    doubles: the same episode gives the same float32 values."""
    return {k: float(np.float32(v)) for k, v in metrics.items()}


@pytest.mark.parametrize("bot_class", [GreedyMiner, RandomBot])
def test_play_batch_gives_each_seed_its_first_episode_as_run_episode_does(bot_class):
    seeds = [2, 7, 7, 40, 123]  # a seed twice: two rows, the same episode
    agent = BotRows(bot_class, seeds)
    with Batch(len(seeds)) as batch:
        got = play_batch(agent, batch, seeds)
    want = [run_episode(bot_class(), Engine(), s) for s in seeds]
    assert [list(m) for m in got] == [list(spec.METRIC_NAMES)] * len(seeds)
    assert [as_float32(m) for m in got] == [as_float32(m) for m in want]
    assert agent.ended >= 1  # rows that ended before the last were reported


def test_valid_actions_and_random_valid_action_pick_only_valid_ones():
    engine = Engine(seed=4)
    rng = random.Random(0)
    for _ in range(300):
        if engine.done:
            break
        mask = engine.action_mask()
        valid = valid_actions(mask)
        assert valid == [a for a in range(spec.N_ACTIONS) if mask[a]]
        a = random_valid_action(rng, mask, exclude=(spec.A_CASH_OUT,))
        assert mask[a] and a != spec.A_CASH_OUT
        engine.step(a)


def test_random_valid_action_draws_uniformly_among_the_valid_ones_minus_exclude():
    mask = [0] * spec.N_ACTIONS
    for a in (1, 6, 30, spec.A_CASH_OUT):
        mask[a] = 1
    rng = random.Random(1)
    drawn = {random_valid_action(rng, mask, exclude=[spec.A_CASH_OUT]) for _ in range(400)}
    assert drawn == {1, 6, 30}
    assert random_valid_action(random.Random(1), bytes(mask)) in (1, 6, 30, spec.A_CASH_OUT)
    # the same draw as rng.choice over the list, so a seeded caller keeps its actions
    assert random_valid_action(random.Random(9), mask) == random.Random(9).choice([1, 6, 30, spec.A_CASH_OUT])


def test_random_valid_action_falls_back_when_nothing_is_left():
    rng = random.Random(0)
    assert random_valid_action(rng, [0] * spec.N_ACTIONS) == spec.A_HOLD
    only_cash_out = [0] * spec.N_ACTIONS
    only_cash_out[spec.A_CASH_OUT] = 1
    assert random_valid_action(rng, only_cash_out, exclude=(spec.A_CASH_OUT,)) == spec.A_HOLD
    assert random_valid_action(rng, only_cash_out, exclude=(spec.A_CASH_OUT,), fallback=-1) == -1
    assert random_valid_action(rng, only_cash_out) == spec.A_CASH_OUT


def test_random_valid_actions_rows_are_valid_and_never_cash_out():
    n = 32
    rng = np.random.default_rng(0)
    out = np.zeros(n, dtype=np.int32)
    with Batch(n) as batch:
        batch.reset(0)
        for _ in range(200):
            masks = batch.action_masks
            random_valid_actions(rng, masks, out)
            rows = np.arange(n)
            has_valid = masks[:, : spec.A_CASH_OUT].astype(bool).any(axis=1)
            assert masks[rows[has_valid], out[has_valid]].all()
            assert (out != spec.A_CASH_OUT).all()
            assert (out[~has_valid] == spec.A_HOLD).all()
            batch.actions[:] = out
            batch.step()


def test_random_valid_actions_holds_a_row_with_nothing_valid_but_cash_out():
    masks = np.zeros((3, spec.N_ACTIONS), dtype=np.uint8)
    masks[0, spec.A_CASH_OUT] = 1           # only CASH_OUT: excluded, so HOLD
    masks[1, [2, spec.A_CASH_OUT]] = 1      # one valid action besides CASH_OUT
    out = np.full(3, -1, dtype=np.int32)    # row 2: nothing valid at all, HOLD
    random_valid_actions(np.random.default_rng(0), masks, out)
    assert out.tolist() == [spec.A_HOLD, 2, spec.A_HOLD]
    random_valid_actions(np.random.default_rng(0), masks, out, exclude_cash_out=False)
    assert out[0] == spec.A_CASH_OUT and out[1] in (2, spec.A_CASH_OUT) and out[2] == spec.A_HOLD
