"""Shared helpers of the binding tests."""

from prospector import spec
from prospector.engine import Engine


def engine_next_to_asteroids() -> Engine:
    """An engine that has just travelled from the station to a node with asteroids."""
    for seed in range(100):
        station = Engine(seed=seed).render_state()["nodes"][0]
        for k in range(len(station["neighbors"])):
            eng = Engine(seed=seed)
            eng.step(spec.A_TRAVEL0 + k)
            if eng.render_state()["asteroids"]:
                return eng
    raise AssertionError("no seed in 0..99 has asteroids next to the station")
