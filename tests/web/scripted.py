"""Scripted episodes whose replays, together, hold every event type the engine reports.

A bot's replay is what a person could record too: no `policy` per frame. Four
recipes cover the twenty events (each episode ends one way only): a greedy miner
mixed with random valid actions (sales, docking, purchases, scans, pirates...),
a reckless miner (overheat, destroyed), a wanderer (stranded, shocks) and a
short miner that never cashes out (time up)."""

from __future__ import annotations

import random

from prospector import spec
from prospector.bots import GreedyMiner
from prospector.engine import Engine
from prospector.rollout import random_valid_action
from prospector.spec import EnvConfig
from prospector_common.replay import Recorder

N = spec.ACTION_NAMES.index
CASH_OUT = N("CASH_OUT")


def _mixed(seed: int, p_random: float, allow_cash_out: bool):
    bot = GreedyMiner()
    bot.reset(seed)
    rng = random.Random(seed)

    def act(engine: Engine) -> int:
        mask = engine.action_mask()
        r = rng.random()
        if r < 0.02:
            a = rng.randrange(spec.N_ACTIONS)  # invalid ones included
            return a if allow_cash_out or a != CASH_OUT else spec.A_HOLD
        if r < p_random:
            return random_valid_action(rng, mask, exclude=(CASH_OUT,))
        a = bot.act(engine.observation(), mask)
        return a if allow_cash_out or a != CASH_OUT else spec.A_HOLD
    return act


def _reckless(seed: int, *_):
    rng = random.Random(seed)

    def act(engine: Engine) -> int:
        mask = engine.action_mask()
        if mask[N("MINE_AGGRESSIVE")]:
            return N("MINE_AGGRESSIVE")
        select = [a for a in range(N("SELECT_ASTEROID_0"), N("SELECT_ASTEROID_15") + 1) if mask[a]]
        if select and rng.random() < 0.7:
            return rng.choice(select)
        travel = [a for a in range(6) if mask[a]]
        return rng.choice(travel) if travel else spec.A_HOLD
    return act


def _wanderer(seed: int, *_):
    rng = random.Random(seed)

    def act(engine: Engine) -> int:
        travel = [a for a in range(6) if engine.action_mask()[a]]
        return rng.choice(travel) if travel else spec.A_HOLD
    return act


# (name, make the policy, seed, time_max, args)
RECIPES = [
    ("mixed", _mixed, 0, 1200, (0.2, True)),
    ("reckless", _reckless, 0, 600, ()),
    ("wanderer", _wanderer, 0, 600, ()),
    ("time-up", _mixed, 0, 300, (0.2, False)),
]


def record(make, seed: int, time_max: int, args) -> tuple[Recorder, EnvConfig, dict, set[str]]:
    config = EnvConfig(time_max=time_max)
    engine = Engine(config, seed=seed)
    act = make(seed, *args)
    recorder = Recorder(engine.render_state())
    seen: set[str] = set()
    while not engine.done:
        a = act(engine)
        reward, _, _ = engine.step(a)
        events = engine.events()
        seen.update(events["names"])
        recorder.add(a, reward, events, engine.render_state())
    return recorder, config, engine.metrics(), seen
