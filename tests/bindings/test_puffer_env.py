"""prospector.puffer_env under PufferLib: native buffers, Serial and Multiprocessing."""

import numpy as np
import pufferlib
import pufferlib.vector
import pytest

from prospector import spec
from prospector.engine import Engine
from prospector.puffer_env import ProspectorPufferEnv, game_seeds, global_index, splitmix64
from prospector.reference.rng import mix64
from prospector.spec import EnvConfig

SHORT = EnvConfig(time_max=40)


def test_puffer_env_steps_c_batch_in_pufferlibs_own_buffers():
    env = ProspectorPufferEnv(num_envs=5, config=SHORT)
    assert isinstance(env, pufferlib.PufferEnv)
    b = env.batch
    for name in ("observations", "actions", "rewards", "terminals", "truncations"):
        assert getattr(b, name) is getattr(env, name)
    assert env.observations.dtype == np.float32 and env.observations.shape == (5, spec.OBS_DIM)
    assert env.actions.dtype == np.int32
    env.actions[:] = spec.A_HOLD
    obs, rewards, terminals, truncations, infos = env.step(env.actions)
    assert obs is env.observations and rewards is env.rewards
    assert np.allclose(rewards, -0.001)
    assert env.action_masks.shape == (5, spec.N_ACTIONS) and env.action_masks[:, spec.A_HOLD].all()
    env.close()


def test_puffer_env_takes_actions_from_any_integer_array():
    env = ProspectorPufferEnv(num_envs=3, config=SHORT)
    env.step(np.array([spec.A_HOLD, spec.A_CASH_OUT, spec.A_HOLD], dtype=np.int64))
    assert env.terminals.tolist() == [False, True, False]
    env.close()


def test_reset_seeds_game_g_with_game_seeds():
    n = 4
    env = ProspectorPufferEnv(num_envs=n, config=SHORT)
    assert env.first_game == 0
    obs, infos = env.reset(seed=3)
    assert infos == []
    seeds = env.episode_seeds(3)
    assert seeds.tolist() == game_seeds(3, 0, n).tolist() == env.batch.seeds().tolist()
    for i in range(n):
        assert obs[i].tobytes() == Engine(SHORT, seed=int(seeds[i])).observation().tobytes()
    env.close()


def test_splitmix64_is_the_engines_mix_of_x_plus_golden():
    xs = [0, 1, 2**32 + 5, 2**63, 2**64 - 1]
    got = splitmix64(np.array(xs, dtype=np.uint64)).tolist()
    assert got == [mix64((x + 0x9E3779B97F4A7C15) % 2**64) for x in xs]


def test_game_seeds_never_repeat_across_seeds_and_indices():
    # what PufferLib hands out: seed + i (+ j) to envs whose games sit at different global indices
    seen = set()
    for s in range(20):
        for first in range(0, 40, 4):
            seen.update(game_seeds(s, first, 4).tolist())
    assert len(seen) == 20 * 40
    big = game_seeds(2**40, 0, 1000)
    assert len(set(big.tolist())) == 1000 and big.dtype == np.uint64
    assert game_seeds(2**64 + 7, 0, 3).tolist() == game_seeds(7, 0, 3).tolist()  # seeds are taken mod 2**64


def test_infos_are_flat_float_metric_means_every_log_interval():
    env = ProspectorPufferEnv(num_envs=4, config=EnvConfig(time_max=6), log_interval=3)
    hold = np.full(4, spec.A_HOLD, dtype=np.int32)
    seen = [env.step(hold)[4] for _ in range(6)]
    assert seen[:5] == [[], [], [], [], []]  # step 3: nothing finished yet
    [info] = seen[5]
    assert set(info) == set(spec.METRIC_NAMES) | {"n"}
    assert all(type(v) is float for v in info.values())  # PuffeRL drops numpy arrays
    assert info["n"] == 4.0 and info["episode_steps"] == 6.0 and info["survival"] == 1.0
    env.close()


def run_vector(backend, threads=1, **kwargs):
    vecenv = pufferlib.vector.make(
        ProspectorPufferEnv, backend=backend, num_envs=2,
        env_kwargs=dict(num_envs=3, config=SHORT, log_interval=5, threads=threads), seed=11, **kwargs)
    try:
        obs, _ = vecenv.reset(seed=11)
        frames, infos = [obs.copy()], []
        rng = np.random.default_rng(0)
        for _ in range(120):
            actions = rng.choice([0, 1, 6, 8, 12, 29, 42, 68], size=6)
            obs, rewards, terminals, truncations, step_infos = vecenv.step(actions)
            frames.append(np.concatenate([obs.ravel(), rewards, terminals, truncations], dtype=np.float64))
            infos.extend(step_infos)
        return frames, infos
    finally:
        vecenv.close()


def test_serial_backend_runs_and_reports_episode_metrics():
    frames, infos = run_vector(pufferlib.vector.Serial)
    assert frames[0].shape == (6, spec.OBS_DIM)
    assert infos and all(set(i) == set(spec.METRIC_NAMES) | {"n"} for i in infos)


@pytest.mark.parametrize("threads", [1, 2])
def test_multiprocessing_backend_matches_serial_step_for_step(threads):
    serial_frames, serial_infos = run_vector(pufferlib.vector.Serial)
    mp_frames, mp_infos = run_vector(pufferlib.vector.Multiprocessing, threads=threads,
                                     num_workers=2, overwork=True)
    assert len(mp_frames) == len(serial_frames)
    for a, b in zip(mp_frames, serial_frames):
        assert a.tobytes() == b.tobytes()
    assert mp_infos and sorted(map(str, mp_infos)) == sorted(map(str, serial_infos))


def test_vector_envs_seed_their_puffer_envs_disjointly():
    vecenv = pufferlib.vector.make(ProspectorPufferEnv, backend=pufferlib.vector.Serial, num_envs=2,
                                   env_kwargs=dict(num_envs=3, config=SHORT), seed=0)
    vecenv.reset(seed=0)
    seeds = np.concatenate([e.batch.seeds() for e in vecenv.envs])
    assert len(set(seeds.tolist())) == 6
    vecenv.close()


def first_observations(backend, seed, envs=4, per_env=2, **kwargs):
    vecenv = pufferlib.vector.make(ProspectorPufferEnv, backend=backend, num_envs=envs,
                                   env_kwargs=dict(num_envs=per_env, config=SHORT), seed=seed, **kwargs)
    try:
        obs, _ = vecenv.reset(seed=seed)
        first = obs.copy()
        if backend is pufferlib.vector.Serial:
            assert [e.first_game for e in vecenv.envs] == list(range(0, envs * per_env, per_env))
            seeds = np.concatenate([e.batch.seeds() for e in vecenv.envs])
            assert len(set(seeds.tolist())) == envs * per_env
        vecenv.step(np.full(envs * per_env, spec.A_HOLD))
        again, _ = vecenv.reset(seed=seed)
        assert again.tobytes() == first.tobytes()  # the same seed: the same games
        return first
    finally:
        vecenv.close()


@pytest.mark.parametrize("backend, kwargs", [
    (pufferlib.vector.Serial, {}),
    # 2 workers x 2 PufferEnvs: PufferLib seeds worker i's env j with seed + i + j
    (pufferlib.vector.Multiprocessing, dict(num_workers=2, overwork=True)),
])
def test_every_game_is_unique_and_reproducible(backend, kwargs):
    obs = first_observations(backend, 3, **kwargs)
    assert obs.shape == (8, spec.OBS_DIM)
    assert len({row.tobytes() for row in obs}) == 8, "two games of the vector env share a seed"
    other = first_observations(backend, 4, **kwargs)
    # consecutive vector seeds: no game of one is a game of the other
    assert not {row.tobytes() for row in obs} & {row.tobytes() for row in other}


def test_multiprocessing_plays_the_games_serial_plays_with_one_env_per_worker():
    serial = first_observations(pufferlib.vector.Serial, 5, envs=2, per_env=3)
    mp = first_observations(pufferlib.vector.Multiprocessing, 5, envs=2, per_env=3, num_workers=2, overwork=True)
    assert serial.tobytes() == mp.tobytes()


def test_global_index_of_views():
    whole = np.zeros((3, 8), dtype=np.float32)
    assert global_index(whole) == 0 and global_index(whole[1]) == 8 and global_index(whole[1][2:]) == 10
    assert global_index(whole.ravel()[5:]) == 5
