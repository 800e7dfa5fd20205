"""Forged saved states: a saved state is a trust boundary (play sessions come back from Redis),
so a state whose bytes were changed and whose CRC was made valid again must be refused unless
it is one the engine could have reached; whatever is accepted plays on with observations in
[-1, 1] and finite rewards."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import orjson
import pytest
from prospector import spec
from prospector.engine import Engine, lib
from prospector.spec import EnvConfig

BLOBS = 20_000
STEPS_AFTER = 50
HEADER = lib.PR_SAVE_HEADER


def _with_crc(body: bytearray) -> bytes:
    """A save of `body` with a valid header: the engine's own, its CRC-32 recomputed (zlib's)."""
    return bytes(body[:12]) + struct.pack("<I", zlib.crc32(body[HEADER:])) + bytes(body[HEADER:])


def _base_states() -> list[bytes]:
    """Saved states across an episode's life, on several curriculum stages and both rewards:
    fresh, after travel and mining, at the station, long into an episode, and ended."""
    rng = np.random.default_rng(0)
    states = []
    configs = [EnvConfig(), EnvConfig(reward_mode="sparse", pirates=False, hazards=False),
               EnvConfig(time_max=300, shocks=False), EnvConfig(scan_noise=False, fractures=False)]
    for i, config in enumerate(configs):
        eng = Engine(config, seed=100 + i)
        states.append(eng.save())
        for steps in (5, 40, 200, 800):
            for _ in range(steps):
                if eng.done:
                    break
                mask = eng.action_mask()
                valid = np.flatnonzero(mask)
                action = int(rng.choice(valid[valid != spec.A_CASH_OUT])) if len(valid) > 1 else spec.A_HOLD
                eng.step(action)
            states.append(eng.save())
        while not eng.done:
            eng.step(spec.A_CASH_OUT)
        states.append(eng.save())
    return states


def _finite_numbers(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    return True


def test_every_state_the_engine_reaches_restores():
    for saved in _base_states():
        eng = Engine()
        eng.restore(saved)
        assert eng.save() == saved


@pytest.mark.parametrize("field, value", [
    ("ship.fuel", float("nan")), ("ship.hull", float("inf")), ("ship.credits", -1.0),
    ("ship.cargo[2]", 250.0), ("ship.decoys", 1000), ("market.price[3]", 1.0),
    ("market.cyc_sin[0]", 5.0), ("market.shock[1]", float("nan")), ("counters.episode_return", float("-inf")),
    ("events.reward", float("nan")), ("n_nodes", 40), ("current_node", 31), ("selected", 15),
    ("t", -5), ("time_remaining", 99), ("stab_until", 10**6), ("done", 3), ("config.pirates", 2),
])
def test_restore_refuses_a_field_out_of_its_range(field, value):
    eng = Engine(seed=3)
    eng.step(spec.A_TRAVEL0)
    target, _, index = field.partition("[")
    parts = target.split(".")
    holder = eng._env
    for name in parts[:-1]:
        holder = getattr(holder, name)
    if index:
        getattr(holder, parts[-1])[int(index.rstrip("]"))] = value
    else:
        setattr(holder, parts[-1], value)
    forged = eng.save()  # pr_save writes whatever the struct holds, with a valid CRC
    with pytest.raises(ValueError, match="out-of-range"):
        Engine().restore(forged)


def test_forged_states_are_refused_or_play_on_within_range():
    rng = np.random.default_rng(14)
    bases = [bytearray(s) for s in _base_states()]
    eng = Engine()
    accepted = 0
    for i in range(BLOBS):
        body = bytearray(bases[i % len(bases)])
        for _ in range(int(rng.integers(1, 5))):  # a few bytes, anywhere in the state
            body[int(rng.integers(HEADER, len(body)))] = int(rng.integers(0, 256))
        try:
            eng.restore(_with_crc(body))
        except ValueError as exc:
            assert "out-of-range" in str(exc)
            continue
        accepted += 1
        for action in rng.integers(-2, spec.N_ACTIONS + 2, size=STEPS_AFTER):
            reward, _, _ = eng.step(int(action))
            obs = eng.observation()
            assert math.isfinite(reward), (i, reward)
            assert np.all(np.isfinite(obs)) and np.all(np.abs(obs) <= 1.0), (i, obs[np.abs(obs) > 1.0])
        assert _finite_numbers(eng.render_state()) and _finite_numbers(eng.metrics()), i
        assert eng.render_json() == orjson.dumps(eng.render_state()), i  # the play API's reply
    # a change the engine could have made (an estimate, the RNG state, a timer) is accepted
    assert 0 < accepted < BLOBS // 4
