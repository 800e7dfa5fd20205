"""Engine.render_json and events_json (written in C, for the play API's replies) are orjson's
bytes of render_state() and events(), byte for byte: the same keys in the same order, and every
double as orjson writes it (the shortest digits that read back as the same double)."""

import math
import random
import struct

import numpy as np
import orjson
import pytest
from prospector import spec
from prospector._engine import ffi, lib
from prospector.bots import CautiousScanner
from prospector.engine import Engine
from prospector.spec import EnvConfig


def _written_by_c(value: float) -> bytes:
    out = ffi.new("char[]", 32)
    return ffi.unpack(out, lib.pr_json_double(value, out))


def _doubles(rng: random.Random):
    yield from (0.0, -0.0, 1.0, -1.0, 128.0, 0.5, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 123.456, 1e-4, 1e-5, 1.5e-7,
                1e15, 1e16, 1.5e16, 9999000000000000.0, 1e21, 1e22, 3.4e38, 5e-324, 2.2250738585072014e-308,
                2.2250738585072009e-308, 1.7976931348623157e308, 2.0 ** -14, 2.0 ** 56, 4.440892098500626e-16)
    for e in range(-1074, 1024):  # powers of two: the doubles below are twice as dense
        yield 2.0 ** e
        yield math.nextafter(2.0 ** e, math.inf)
    for q in range(256):  # the snapshot's floats, q/255 and q/65535 as float32
        yield float(np.float32(q * (1 / 255)))
    for q in range(0, 65536, 13):
        yield float(np.float32(q * (1 / 65535)))
    for _ in range(60_000):  # every magnitude a game state holds, and the rest
        yield rng.random() * 10 ** rng.uniform(-20, 20)
        yield struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        yield float(rng.randint(-10**7, 10**7)) / rng.choice([1, 2, 3, 8, 10, 100, 1000])
        yield struct.unpack("<f", struct.pack("<I", rng.getrandbits(32)))[0]


def test_doubles_are_written_as_orjson_writes_them():
    mismatches = [(value, _written_by_c(value), orjson.dumps(value))
                  for value in _doubles(random.Random(7)) if _written_by_c(value) != orjson.dumps(value)]
    assert mismatches == []
    assert [_written_by_c(v) for v in (math.nan, math.inf, -math.inf)] == [b"null"] * 3  # as orjson


def _assert_render_json_matches(engine: Engine) -> None:
    assert engine.render_json() == orjson.dumps(engine.render_state()), engine.t
    assert engine.events_json() == orjson.dumps(engine.events()), engine.t


@pytest.mark.parametrize("stage", [1, 3, 5])
def test_render_json_is_orjsons_bytes_of_render_state_through_whole_games(stage):
    rng, steps, events = random.Random(stage), 0, set()
    for seed in range(3):
        config = EnvConfig.curriculum(stage).replace(time_max=1500)
        random_play, bot = Engine(config, seed=seed), Engine(config, seed=seed)
        scanner = CautiousScanner()
        scanner.reset(seed)
        _assert_render_json_matches(random_play)
        while not (random_play.done and bot.done):
            if not random_play.done:  # valid actions but cashing out, and now and then any int at all
                mask = random_play.action_mask()
                valid = [a for a in range(spec.A_CASH_OUT) if mask[a]] or [spec.A_HOLD]
                random_play.step(rng.choice(valid) if rng.random() < 0.97 else rng.randrange(-3, 80))
                _assert_render_json_matches(random_play)
            if not bot.done:
                bot.step(scanner.act(bot.observation(), bot.action_mask()))
                _assert_render_json_matches(bot)
                events.update(bot.events()["names"])
            steps += 1
    assert steps > 2000 and {"mine", "sale", "travel", "scan"} <= events


def test_render_json_of_a_restored_state_and_of_a_batch_env():
    other = Engine(EnvConfig.curriculum(2), seed=21)
    for action in (8, 0, 9, 20, 29, 29, 6):
        other.step(action)
    engine = Engine(seed=3)
    engine.restore(other.save())
    assert engine.render_json() == other.render_json() == orjson.dumps(other.render_state())
    from prospector.engine import Batch

    batch = Batch(2, EnvConfig(time_max=50))
    batch.reset([5, 6])
    for _ in range(60):  # through an auto-reset
        batch.step(np.full(2, spec.A_HOLD, dtype=np.int32))
        env = batch.engine(1)
        assert env.render_json() == orjson.dumps(env.render_state())


def test_a_buffer_too_small_is_refused_and_not_written_past():
    engine = Engine(seed=8)
    whole = engine.render_json()
    from prospector.engine import _JSON_NAMES

    for cap in (0, 1, 40, len(whole) - 1):
        out = ffi.new("char[]", cap + 64)
        ffi.memmove(out, b"\xab" * (cap + 64), cap + 64)
        assert lib.pr_render_json(engine._env, _JSON_NAMES, out, cap) == -1
        assert ffi.unpack(out, cap + 64)[cap:] == b"\xab" * 64
    out = ffi.new("char[]", len(whole))
    assert lib.pr_render_json(engine._env, _JSON_NAMES, out, len(whole)) == len(whole)
