"""prospector.engine: the Engine and Batch wrappers over the C engine."""

import json
import struct
import zlib

import numpy as np
import pytest

from prospector import spec
from prospector._engine import lib
from prospector.engine import Batch, Engine
from prospector.spec import EnvConfig

from .helpers import engine_next_to_asteroids

SHORT = EnvConfig(time_max=150)


def masked_random_actions(eng: Engine, rng: np.random.Generator, n: int):
    """Play n valid random actions (never CASH_OUT); returns them."""
    played = []
    for _ in range(n):
        mask = eng.action_mask()
        mask[spec.A_CASH_OUT] = 0
        a = int(rng.choice(np.flatnonzero(mask)))
        eng.step(a)
        played.append(a)
    return played


def trajectory(eng: Engine, actions):
    out = []
    for a in actions:
        r, term, trunc = eng.step(a)
        out.append((eng.observation().tobytes(), r, term, trunc, eng.action_mask().tobytes()))
    return out


# ---- save / restore ----------------------------------------------------------------


def test_restored_state_continues_exactly_like_the_original():
    rng = np.random.default_rng(1)
    eng = Engine(seed=42)
    masked_random_actions(eng, rng, 120)
    saved = eng.save()
    assert len(saved) == lib.pr_save_size()
    follow = [int(a) for a in rng.integers(0, spec.N_ACTIONS, size=200)]
    expected = trajectory(eng, follow)

    other = Engine(seed=7)
    other.restore(saved)
    assert trajectory(other, follow) == expected
    assert other.metrics() == eng.metrics()
    assert other.save() == eng.save()


def test_clone_is_independent_of_the_original():
    eng = Engine(seed=3)
    twin = eng.clone()
    eng.step(spec.A_TRAVEL0)
    assert eng.t > twin.t == 0


def test_restore_rejects_truncated_bytes_and_leaves_state_untouched():
    eng = Engine(seed=5)
    saved = eng.save()
    victim = Engine(seed=9)
    before = victim.save()
    for cut in (0, 3, lib.PR_SAVE_HEADER, len(saved) - 1):
        with pytest.raises(ValueError, match="truncated"):
            victim.restore(saved[:cut])
    assert victim.save() == before


@pytest.mark.parametrize("where, message", [
    ("payload", "checksum"),
    ("magic", "magic"),
    ("version", "version"),
    ("size_field", "size"),
])
def test_restore_rejects_corrupt_bytes_with_a_clear_error(where, message):
    saved = bytearray(Engine(seed=5).save())
    offset = {"payload": lib.PR_SAVE_HEADER + 200, "magic": 0, "version": 4, "size_field": 8}[where]
    saved[offset] ^= 0x5A
    victim = Engine(seed=9)
    before = victim.save()
    with pytest.raises(ValueError, match=message):
        victim.restore(bytes(saved))
    assert victim.save() == before


def test_saved_checksum_is_zlibs_crc32_of_the_state():
    """The header's CRC-32 is the standard one (IEEE, as zlib), so other tools can check a save;
    states of several lengths into an episode cover the 8-byte rounds and the tail."""
    rng = np.random.default_rng(4)
    eng = Engine(seed=11)
    for steps in (0, 1, 37, 200):
        masked_random_actions(eng, rng, steps)
        saved = eng.save()
        assert struct.unpack_from("<I", saved, 12)[0] == zlib.crc32(saved[lib.PR_SAVE_HEADER:])


def test_restore_rejects_trailing_bytes_and_non_bytes():
    eng = Engine(seed=5)
    with pytest.raises(ValueError, match="size"):
        eng.restore(eng.save() + b"\0")
    with pytest.raises(TypeError):
        eng.restore("not bytes")


# ---- render state ---------------------------------------------------------------------


def test_render_state_is_strict_json_through_a_whole_episode():
    rng = np.random.default_rng(2)
    eng = Engine(SHORT, seed=8)
    for _ in range(400):
        state = eng.render_state()
        json.dumps(state, allow_nan=False)
        if state["done"]:
            break
        mask = eng.action_mask()
        mask[spec.A_CASH_OUT] = 0
        eng.step(int(rng.choice(np.flatnonzero(mask))))
    assert eng.render_state()["done"]


def test_render_state_describes_graph_ship_asteroids_and_market():
    eng = Engine(seed=12)
    state = eng.render_state()
    assert state["current_node"] == 0 and state["nodes"][0]["type"] == "station"
    for node in state["nodes"]:
        assert len(node["neighbors"]) == len(node["travel_times"])
        assert set(node) >= {"id", "type", "x", "y", "visited", "threat_estimate", "hops"}
    assert set(state["cargo"]) == set(spec.COMMODITIES) == set(state["market"])
    assert state["ship"]["fuel"] == spec.FUEL_MAX
    assert state["action_mask"] == eng.action_mask().tolist()
    assert set(state["metrics"]) == set(spec.METRIC_NAMES)

    eng = engine_next_to_asteroids()
    state = eng.render_state()
    assert state["events"]["names"] == ["travel"]
    assert state["events"]["travel_to"] == state["current_node"] != 0
    slot = state["asteroids"][0]["slot"]
    eng.step(spec.A_SELECT0 + slot)
    state = eng.render_state()
    assert state["selected_asteroid"] == slot and state["asteroids"][0]["selected"]
    assert state["events"]["action_name"] == f"SELECT_ASTEROID_{slot}"
    assert set(state["asteroids"][0]["composition"]) == set(spec.COMMODITIES)


# ---- actions ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [-1, 69, 2**31 - 1, -(2**31), 2**40, -(2**70)])
def test_out_of_range_action_is_an_invalid_hold_not_a_crash(action):
    eng = Engine(seed=4)
    reward, term, trunc = eng.step(action)
    assert not term and not trunc
    events = eng.events()
    assert "invalid" in events["names"]
    assert events["applied_action"] == spec.A_HOLD
    assert events["applied_action_name"] == "HOLD_DRIFT" and events["action_name"] is None
    assert eng.metrics()["invalid_actions"] == 1.0
    assert not eng.action_valid(action)


def test_batch_out_of_range_actions_count_as_invalid():
    batch = Batch(6, SHORT)
    batch.step(np.array([-1, 69, 2**31 - 1, -(2**31), 2**40, spec.A_HOLD], dtype=np.int64))
    invalid = [batch.engine(i).metrics()["invalid_actions"] for i in range(6)]
    assert invalid == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    with pytest.raises(TypeError):
        batch.step(np.zeros(6, dtype=np.float32))


def test_finished_engine_episode_stays_finished():
    eng = Engine(seed=1)
    assert eng.step(spec.A_CASH_OUT)[1]
    t = eng.t
    reward, term, trunc = eng.step(spec.A_HOLD)
    assert term and not trunc and eng.t == t


# ---- batch ---------------------------------------------------------------------------------


def run_batch(n_envs, threads, seeds, action_table, config=SHORT):
    batch = Batch(n_envs, config, threads=threads)
    batch.reset(seeds[:n_envs])
    frames = []
    for row in action_table:
        batch.step(row[:n_envs])
        frames.append((batch.observations.copy(), batch.rewards.copy(), batch.terminals.copy(),
                       batch.truncations.copy(), batch.action_masks.copy()))
    batch.close()
    return frames


def test_batch_results_do_not_depend_on_batch_size_or_threads():
    rng = np.random.default_rng(0)
    seeds = np.arange(1000, 1064, dtype=np.uint64)
    # mostly HOLD / travel / scan / mine so episodes run to the time limit and auto-reset
    pool = np.array([0, 1, 2, 6, 8, 12, 13, 29, 29, 30, 33, 42, 43, 68] + [6] * 20, dtype=np.int32)
    table = rng.choice(pool, size=(220, 64)).astype(np.int32)
    reference = run_batch(64, 1, seeds, table)
    for n_envs in (1, 7, 64):
        for threads in (1, 2):
            frames = run_batch(n_envs, threads, seeds, table)
            for got, want in zip(frames, reference):
                for g, w in zip(got, want):
                    assert g.tobytes() == w[:n_envs].tobytes(), (n_envs, threads)
    assert any(f[2].any() or f[3].any() for f in reference)  # episodes did end and auto-reset


def test_batch_env_matches_a_single_engine_with_the_same_seed_sequence():
    rng = np.random.default_rng(3)
    actions = rng.choice([0, 1, 6, 8, 12, 29, 33, 42, 68], size=300).astype(np.int32)
    batch = Batch(1, SHORT)
    batch.reset([77])
    eng = Engine(SHORT, seed=77)
    for a in actions:
        batch.step(np.array([a], dtype=np.int32))
        r, term, trunc = eng.step(int(a))
        assert batch.rewards[0] == np.float32(r)
        assert (bool(batch.terminals[0]), bool(batch.truncations[0])) == (term, trunc)
        if term or trunc:
            eng.reset(eng.next_seed)
        assert batch.observations[0].tobytes() == eng.observation().tobytes()
        assert batch.action_masks[0].tobytes() == eng.action_mask().astype(bool).tobytes()


def test_batch_auto_reset_moves_to_the_next_seed_of_each_env():
    batch = Batch(3, EnvConfig(time_max=5))
    batch.reset([10, 20, 30])
    for _ in range(5):
        batch.step(np.full(3, spec.A_HOLD, dtype=np.int32))
    assert batch.truncations.all() and not batch.terminals.any()
    assert batch.seeds().tolist() == [int(lib.pr_next_seed(s)) for s in (10, 20, 30)]
    assert batch.observations[0].tobytes() == Engine(EnvConfig(time_max=5), seed=int(lib.pr_next_seed(10))).observation().tobytes()


def test_set_config_applies_from_each_envs_next_episode():
    """A curriculum changes stage mid-run: episodes in progress keep their rules."""
    batch = Batch(2, EnvConfig(time_max=5))
    batch.reset([10, 20])
    hold = np.full(2, spec.A_HOLD, dtype=np.int32)
    batch.step(hold)
    later = EnvConfig.curriculum(1, time_max=9)
    batch.set_config(later)
    assert batch.engine(0).config == EnvConfig(time_max=5)  # still the episode it started
    for _ in range(4):
        batch.step(hold)
    assert batch.truncations.all()  # the old episodes ended on their own time budget
    assert [batch.engine(i).config for i in range(2)] == [later, later]
    assert batch.observations[0].tobytes() == Engine(later, seed=int(lib.pr_next_seed(10))).observation().tobytes()
    batch.reset([30, 40])
    assert batch.engine(1).config == later and batch.config == later


def test_read_log_sums_every_finished_episode_then_clears():
    n, t_max = 5, 12
    batch = Batch(n, EnvConfig(time_max=t_max))
    for _ in range(t_max):
        batch.step(np.full(n, spec.A_HOLD, dtype=np.int32))
    count, sums, records = batch.read_log()
    assert count == n
    assert records.shape == (n, spec.N_METRICS)
    assert sums["episode_steps"] == n * t_max
    assert sums["episode_length"] == n * t_max
    assert sums["survival"] == n
    assert np.allclose(records.sum(axis=0), [sums[m] for m in spec.METRIC_NAMES], rtol=1e-5)
    assert batch.read_log()[0] == 0


def test_batch_binds_caller_arrays_without_copying():
    n = 4
    bufs = dict(
        observations=np.zeros((n, spec.OBS_DIM), np.float32),
        actions=np.full(n, spec.A_HOLD, np.int32),
        rewards=np.zeros(n, np.float32),
        terminals=np.zeros(n, np.bool_),
        truncations=np.zeros(n, np.uint8),
        action_masks=np.zeros((n, spec.N_ACTIONS), np.uint8),
    )
    batch = Batch(n, SHORT, **bufs)
    for name, arr in bufs.items():
        assert getattr(batch, name) is arr
    assert bufs["observations"].any() and bufs["action_masks"].any()  # reset wrote into them
    batch.step()
    assert (bufs["rewards"] != 0).all()
    assert batch.engine(2).observation().tobytes() == bufs["observations"][2].tobytes()


@pytest.mark.parametrize("name, bad", [
    ("observations", np.zeros((4, spec.OBS_DIM), np.float64)),
    ("observations", np.zeros((4, spec.OBS_DIM * 2), np.float32)[:, ::2]),
    ("observations", np.zeros((3, spec.OBS_DIM), np.float32)),
    ("actions", np.zeros(4, np.int64)),
    ("terminals", np.zeros(4, np.int32)),
    ("action_masks", [[0] * spec.N_ACTIONS] * 4),
])
def test_batch_rejects_buffers_of_wrong_dtype_shape_or_layout(name, bad):
    with pytest.raises((TypeError, ValueError)):
        Batch(4, SHORT, **{name: bad})


def test_closed_batch_refuses_to_step():
    batch = Batch(2)
    batch.close()
    batch.close()
    with pytest.raises(RuntimeError):
        batch.step()


def test_saved_episode_continues_identically_in_another_process(tmp_path):
    """Pause an episode here, continue it in a fresh interpreter: same bytes."""
    import subprocess
    import sys

    eng = Engine()
    eng.reset(2024)
    actions = [(7 * i + 3) % 69 for i in range(300)]
    for a in actions[:150]:
        eng.step(a)
    (tmp_path / "state.bin").write_bytes(eng.save())
    here = []
    for a in actions[150:]:
        eng.step(a)
        here.append(eng.observation().tobytes())
        if eng.done:
            break
    script = (
        "import sys, hashlib\n"
        "from prospector.engine import Engine\n"
        "e = Engine(); e.restore(open(sys.argv[1], 'rb').read()); h = hashlib.sha256()\n"
        f"for a in {actions[150:]!r}:\n"
        "    e.step(a); h.update(e.observation().tobytes())\n"
        "    if e.done: break\n"
        "print(h.hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "state.bin")],
                         capture_output=True, text=True, check=True).stdout.strip()
    import hashlib
    assert out == hashlib.sha256(b"".join(here)).hexdigest()
