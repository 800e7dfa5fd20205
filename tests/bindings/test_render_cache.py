"""render_state reuses its node and asteroid lists while the snapshot bytes behind them are
unchanged: the result must equal a render built from scratch at every step."""

import random

from prospector import spec
from prospector.engine import Engine
from prospector.spec import EnvConfig


def fresh_render(engine: Engine) -> dict:
    """The same state rendered by an engine with empty caches."""
    return engine.clone().render_state()


def test_cached_render_equals_a_fresh_render_over_whole_episodes():
    rng = random.Random(5)
    hits = 0
    for seed in (1, 2, 3):
        engine = Engine(EnvConfig(time_max=600), seed=seed)
        previous = engine.render_state()
        while not engine.done:
            mask = engine.action_mask()
            engine.step(rng.choice([a for a in range(spec.A_CASH_OUT) if mask[a]]))  # not the end at once
            state = engine.render_state()
            assert state == fresh_render(engine)
            hits += state["nodes"] is previous["nodes"]
            previous = state
    assert hits > 100  # the cache is used, not rebuilt every step


def test_reset_and_restore_render_the_new_episode():
    engine = Engine(seed=11)
    first = engine.render_state()
    engine.reset(12)
    assert engine.render_state() == fresh_render(engine)
    assert engine.render_state()["nodes"] != first["nodes"]
    other = Engine(EnvConfig.curriculum(1), seed=13)
    engine.restore(other.save())
    state = engine.render_state()
    assert state == other.render_state()
    assert state["config"] == other.config.to_dict()
