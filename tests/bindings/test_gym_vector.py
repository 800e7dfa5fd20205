"""prospector.gym_vector: the native Gymnasium vector env over the C batch."""

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from prospector import spec
from prospector.engine import Batch
from prospector.gym_env import ProspectorGymEnv
from prospector.gym_vector import ProspectorVectorEnv
from prospector.rollout import random_valid_actions
from prospector.spec import EnvConfig

# short games: some end by CASH_OUT / destruction (terminated), some by the clock (truncated)
SHORT = EnvConfig(time_max=400)


def random_actions(rng, masks):
    """Random valid actions; CASH_OUT (which ends the game) only now and then."""
    out = np.zeros(len(masks), dtype=np.int64)
    random_valid_actions(rng, masks, out)
    cash_out = (rng.random(len(masks)) < 0.01) & (np.asarray(masks)[:, spec.A_CASH_OUT] != 0)
    out[cash_out] = spec.A_CASH_OUT
    return out


def test_same_episodes_as_single_gym_envs():
    n, steps, seed = 6, 400, 11
    vec = ProspectorVectorEnv(num_envs=n, config=SHORT)
    singles = [ProspectorGymEnv(config=SHORT) for _ in range(n)]
    obs, info = vec.reset(seed=seed)
    assert info["seed"].tolist() == [seed + i for i in range(n)] and info["_seed"].all()
    for i, env in enumerate(singles):
        o, inf = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs[i], o)
        np.testing.assert_array_equal(info["action_mask"][i], inf["action_mask"])
    rng = np.random.default_rng(0)
    ended = {"terminated": 0, "truncated": 0}
    for _ in range(steps):
        actions = random_actions(rng, info["action_mask"])
        obs, rewards, terms, truncs, info = vec.step(actions)
        assert obs.dtype == np.float32 and rewards.dtype == np.float32
        assert terms.dtype == np.bool_ and truncs.dtype == np.bool_
        for i, env in enumerate(singles):
            o, r, te, tr, inf = env.step(int(actions[i]))
            assert (np.float32(r), te, tr) == (rewards[i], terms[i], truncs[i])
            if te or tr:
                ended["terminated" if te else "truncated"] += 1
                assert info["_final_obs"][i] and info["_final_info"][i]
                np.testing.assert_array_equal(info["final_obs"][i], o)
                assert info["final_info"]["_metrics"][i]
                got = {k: info["final_info"]["metrics"][k][i] for k in spec.METRIC_NAMES}
                assert got == inf["metrics"]
                next_seed = env.engine.next_seed
                o, inf = env.reset(seed=next_seed)
                assert info["_seed"][i] and int(info["seed"][i]) == next_seed
            else:
                assert "final_obs" not in info or (info["final_obs"][i] is None and not info["_final_obs"][i])
                assert "_seed" not in info or not info["_seed"][i]
            np.testing.assert_array_equal(obs[i], o)
            np.testing.assert_array_equal(info["action_mask"][i], inf["action_mask"])
    assert ended["terminated"] > 0 and ended["truncated"] > 0, ended
    vec.close()


def test_same_step_conventions_match_sync_vector_env():
    """Up to the first episode end (after which SyncVectorEnv resets with a seed of its
    own), the native env returns what SyncVectorEnv in SAME_STEP mode returns."""
    n = 4
    native = gymnasium.make_vec("Prospector-v0", num_envs=n, config=SHORT)
    sync = gymnasium.make_vec("Prospector-v0", num_envs=n, vectorization_mode="sync", config=SHORT,
                              vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    assert sync.metadata["autoreset_mode"] == native.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    o1, i1 = native.reset(seed=5)
    o2, i2 = sync.reset(seed=5)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(i1["action_mask"], i2["action_mask"])
    assert i1["action_mask"].dtype == i2["action_mask"].dtype == np.int8
    rng = np.random.default_rng(1)
    for _ in range(2000):
        a = random_actions(rng, i1["action_mask"])
        o1, r1, te1, tr1, i1 = native.step(a)
        o2, r2, te2, tr2, i2 = sync.step(a)
        np.testing.assert_array_equal(r1, r2.astype(np.float32))  # float32 here, float64 there
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
        if (te1 | tr1).any():
            np.testing.assert_array_equal(i1["_final_obs"], i2["_final_obs"])
            np.testing.assert_array_equal(i1["_final_info"], i2["_final_info"])
            for k in np.flatnonzero(i1["_final_obs"]):
                np.testing.assert_array_equal(i1["final_obs"][k], i2["final_obs"][k])
            for name in spec.METRIC_NAMES:
                np.testing.assert_array_equal(i1["final_info"]["metrics"][name], i2["final_info"]["metrics"][name])
            np.testing.assert_array_equal(i1["final_info"]["_metrics"], i2["final_info"]["_metrics"])
            break
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(i1["action_mask"], i2["action_mask"])
        assert "final_obs" not in i1 and "final_obs" not in i2
    else:
        pytest.fail("no episode ended")
    native.close()
    sync.close()


def test_make_vec_builds_the_native_vector_env():
    for mode in (None, "vector_entry_point"):
        envs = gymnasium.make_vec("Prospector-v0", num_envs=3, vectorization_mode=mode, config=SHORT)
        assert isinstance(envs.unwrapped, ProspectorVectorEnv)
        assert envs.num_envs == 3 and envs.unwrapped.config == SHORT
        assert envs.spec.id == "Prospector-v0"
        envs.close()
    sync = gymnasium.make_vec("Prospector-v0", num_envs=2, vectorization_mode="sync")
    assert isinstance(sync, gymnasium.vector.SyncVectorEnv)
    sync.close()


def test_spaces_and_checks():
    """What a vector env checker would look at (Gymnasium 1.4 has none for vector envs)."""
    n = 5
    envs = ProspectorVectorEnv(num_envs=n)
    assert envs.single_observation_space == gymnasium.spaces.Box(-1.0, 1.0, (spec.OBS_DIM,), np.float32)
    assert envs.single_action_space == gymnasium.spaces.Discrete(spec.N_ACTIONS)
    assert envs.observation_space.shape == (n, spec.OBS_DIM) and envs.observation_space.dtype == np.float32
    assert isinstance(envs.action_space, gymnasium.spaces.MultiDiscrete)
    assert envs.action_space.shape == (n,) and (envs.action_space.nvec == spec.N_ACTIONS).all()
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    assert info["action_mask"].shape == (n, spec.N_ACTIONS) and info["_action_mask"].all()
    envs.action_space.seed(0)
    previous = obs
    for _ in range(50):
        obs, rewards, terms, truncs, info = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs)
        assert rewards.shape == terms.shape == truncs.shape == (n,)
        assert obs is not previous and not np.shares_memory(obs, previous)  # copies (copy=True)
        previous = obs
    assert not np.shares_memory(obs, envs.batch.observations)
    assert not np.shares_memory(info["action_mask"], envs.batch.action_masks)
    envs.close()
    assert envs.closed


def test_copy_false_returns_the_batch_buffers():
    envs = ProspectorVectorEnv(num_envs=2, copy=False)
    obs, _ = envs.reset(seed=0)
    obs2, rewards, *_ = envs.step(np.array([spec.A_HOLD, spec.A_HOLD]))
    assert obs is obs2 is envs.batch.observations and rewards is envs.batch.rewards


@pytest.mark.parametrize("actions, error, match", [
    (np.array([1.0, 2.0, 3.0]), TypeError, "integers"),
    (np.array([True, False, True]), TypeError, "integers"),
    (["1", "2", "3"], TypeError, "integers"),
    (np.array([1, 2]), ValueError, "shape"),
    (np.array([[1, 2, 3]]), ValueError, "shape"),
    (3, ValueError, "shape"),
    (np.array([0, 69, 1]), ValueError, "got 69 for env 1"),
    (np.array([0, 1, -1]), ValueError, "got -1 for env 2"),
    (np.array([0, 1, 2**40]), ValueError, "0..68"),
    (np.array([0, 1, 200], dtype=np.uint8), ValueError, "got 200"),
])
def test_bad_actions_raise(actions, error, match):
    envs = ProspectorVectorEnv(num_envs=3)
    envs.reset(seed=0)
    before = envs.batch.observations.copy()
    with pytest.raises(error, match=match):
        envs.step(actions)
    np.testing.assert_array_equal(envs.batch.observations, before)  # nothing stepped
    envs.step([0, 1, 2])  # a list of ints is fine
    envs.step(np.array([6, 6, 6], dtype=np.uint8))


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match="reset"):
        ProspectorVectorEnv(num_envs=2).step(np.array([6, 6]))


def test_reset_seeding():
    n = 4
    envs = ProspectorVectorEnv(num_envs=n)
    a, info = envs.reset(seed=100)
    assert info["seed"].dtype == np.uint64 and info["seed"].tolist() == [100, 101, 102, 103]
    b, _ = envs.reset(seed=100)
    np.testing.assert_array_equal(a, b)
    batch = Batch(n)
    batch.reset(100)
    np.testing.assert_array_equal(a, batch.observations)  # Batch.reset(base) gives the same games
    c, info = envs.reset(seed=[7, 9, 7, 2**64 - 1])
    assert info["seed"].tolist() == [7, 9, 7, 2**64 - 1]
    np.testing.assert_array_equal(c[0], c[2])
    # seed=None: N seeds from np_random, reproducible after a seeded reset
    envs.reset(seed=1)
    _, i1 = envs.reset()
    envs.reset(seed=1)
    _, i2 = envs.reset()
    np.testing.assert_array_equal(i1["seed"], i2["seed"])
    assert len(set(i1["seed"].tolist())) == n
    for bad, error in ((-1, ValueError), (2**64, ValueError), ([1, 2], ValueError), (1.5, TypeError)):
        with pytest.raises(error):
            envs.reset(seed=bad)


def test_reset_options_config_switches_the_config():
    envs = ProspectorVectorEnv(num_envs=2)
    envs.reset(seed=0, options={"config": EnvConfig(time_max=5)})
    assert envs.config.time_max == 5
    for _ in range(10):
        _, _, terms, truncs, info = envs.step(np.full(2, spec.A_HOLD))
        if truncs.all():
            break
    assert truncs.all() and info["final_info"]["metrics"]["episode_length"].tolist() == [5.0, 5.0]


def test_threads_give_the_same_games():
    outs = []
    for threads in (1, 2):
        envs = ProspectorVectorEnv(num_envs=8, config=SHORT, threads=threads)
        obs, info = envs.reset(seed=3)
        rng = np.random.default_rng(3)
        total = np.zeros(8)
        for _ in range(200):
            obs, r, *_, info = envs.step(random_actions(rng, info["action_mask"]))
            total += r
        outs.append((obs, total))
        envs.close()
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_batch_keep_final_matches_engine():
    batch = Batch(3, SHORT)
    final_obs, final_metrics = batch.keep_final()
    assert batch.keep_final()[0] is final_obs  # allocated once
    batch.reset(0)
    engines = [batch.engine(i).clone() for i in range(3)]
    for _ in range(5000):
        batch.step(np.full(3, spec.A_HOLD))
        for i, e in enumerate(engines):
            e.step(spec.A_HOLD)
        if batch.truncations.all():
            break
    assert batch.truncations.all()
    for i, e in enumerate(engines):
        np.testing.assert_array_equal(final_obs[i], e.observation())
        assert dict(zip(spec.METRIC_NAMES, final_metrics[i].tolist())) == e.metrics()
