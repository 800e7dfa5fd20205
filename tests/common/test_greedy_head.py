"""The greedy head (prospector_common.policy.greedy): its storage, its correction, its travel
memory, and that the torch Actor and the numpy policy play it alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from prospector import spec
from prospector.engine import Batch, Engine
from prospector.rollout import play_batch
from prospector_common.policy import checkpoint as ckpt
from prospector_common.policy.actor import Actor
from prospector_common.policy.greedy import (
    N_PARAMS,
    N_READINGS,
    GreedyDecoder,
    GreedyHead,
    GreedyHeadError,
    TravelMemory,
    corrections,
    decide,
)
from prospector_common.policy.pretrained import NumpyPlayer
from prospector_common.policy.serving import NumpyPolicy, PolicyFileError, export_numpy

from .recorded import record_episodes
from .test_policy_serving import make_checkpoint

KWARGS = dict(kind="mlp", hidden_size=48, action_masking=True, forbid_cash_out=True, forbid_jettison=True,
              mask_noops=True)


def random_head(seed: int = 0, scale: float = 1.0) -> GreedyHead:
    return GreedyHead.from_vector(np.random.default_rng(seed).standard_normal(N_PARAMS).astype(np.float32) * scale,
                                  memory_penalty=2.5, fitted={"generations": 3})


@pytest.fixture(scope="module")
def observations():
    return np.concatenate([obs for obs, _ in record_episodes()])


def test_state_and_vector_round_trips():
    head = random_head(1)
    again = GreedyHead.from_state(head.state_dict())
    assert np.array_equal(again.vector(), head.vector())
    assert again.memory_penalty == 2.5 and again.fitted == {"generations": 3}
    assert np.array_equal(GreedyHead.from_vector(head.vector()).W, head.W)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(W=[[0.0] * 5]), "W has shape"),
    (lambda s: s.update(u=[float("nan")] * 6), "finite"),
    (lambda s: s.update(memory_penalty=-1), "memory_penalty"),
    (lambda s: s.update(format="something else"), "not a prospector-greedy-head"),
    (lambda s: s.update(format_version=99), "version 99"),
    (lambda s: s.pop("v"), "lacks or garbles"),
])
def test_a_bad_state_is_refused_with_the_reason(change, message):
    state = random_head().state_dict()
    change(state)
    with pytest.raises(GreedyHeadError, match=message):
        GreedyHead.from_state(state)


def test_a_population_plays_each_group_with_its_own_head(observations):
    heads = [random_head(s) for s in range(3)]
    obs = observations[:30]                      # 3 groups of 10 rows
    together = corrections(obs, np.stack([h.W for h in heads]), np.stack([h.u for h in heads]),
                           np.stack([h.v for h in heads]))
    for j, head in enumerate(heads):
        assert np.allclose(together[10 * j:10 * (j + 1)], head.correction(obs[10 * j:10 * (j + 1)]), atol=1e-5)
    with pytest.raises(ValueError, match="equal groups"):
        corrections(obs[:29], np.stack([h.W for h in heads]), np.stack([h.u for h in heads]),
                    np.stack([h.v for h in heads]))


def test_the_correction_reads_the_ship_and_the_asteroids(observations):
    """The bias row of W moves every row alike; u moves only the SELECTs, v only the MINEs."""
    obs = observations[:5]
    head = GreedyHead.zero()
    assert not head.correction(obs).any()
    head.W[N_READINGS - 1, spec.A_LISTEN] = 2.0
    assert np.allclose(head.correction(obs)[:, spec.A_LISTEN], 2.0)
    head.u[-1] = 1.0                            # the constant slot feature
    c = head.correction(obs)
    assert np.allclose(c[:, spec.A_SELECT0:spec.A_SELECT0 + spec.MAX_ASTEROIDS], 1.0)
    assert np.allclose(c[:, spec.A_MINE0:spec.A_MINE0 + 3], 0.0)


def neighbor_obs(node: int, node_type: int, neighbors: list[tuple[int, float]]) -> np.ndarray:
    """An observation at `node` (of type node_type) whose neighbor slots hold (type, travel time)."""
    obs = np.zeros(spec.OBS_DIM, np.float32)
    obs[spec.OBS_NODE_INDEX] = node / (spec.MAX_NODES - 1)
    obs[spec.OBS_NODE_TYPE.start + node_type] = 1.0
    for k, (kind, time) in enumerate(neighbors):
        base = spec.neighbor_slot(k).start
        obs[base + spec.NB_VALID] = 1.0
        obs[base + spec.NB_TYPE.start + kind] = 1.0
        obs[base + spec.NB_TRAVEL_TIME] = time
    obs[spec.OBS_FUEL] = obs[spec.OBS_HULL] = obs[spec.OBS_TOOL] = 0.5
    obs[spec.OBS_HEAT] = 0.5
    return obs[None, :]


def test_the_travel_memory_penalizes_going_back_until_the_ship_does_something_else():
    memory = TravelMemory(1)
    at_a = neighbor_obs(3, 0, [(1, 0.2), (2, 0.5)])       # node 3 (type 0); slot 1 leads to node 7
    at_b = neighbor_obs(7, 2, [(1, 0.3), (0, 0.5)])       # node 7 (type 2); its slot 1 leads back to 3
    memory.observe(at_a)
    assert not memory.penalties(at_a, 3.0).any()
    memory.acted(at_a, np.array([spec.A_TRAVEL0 + 1]))
    memory.observe(at_b)
    assert memory.edge[0, 3, 1] == 7 and memory.edge[0, 7, 1] == 3   # learned both ways
    assert memory.penalties(at_b, 3.0).tolist() == [[0, -3, 0, 0, 0, 0]]
    memory.acted(at_b, np.array([spec.A_LISTEN]))         # not a travel: the cycle is broken
    memory.observe(at_b)
    assert not memory.penalties(at_b, 3.0).any()
    memory.forget([0])
    assert (memory.edge == -1).all()


def test_decide_never_plays_a_masked_or_idle_action():
    obs = neighbor_obs(0, 0, [(1, 0.2)])
    obs[0, spec.OBS_AT_STATION] = 1.0                      # LISTEN at the station is idle
    logits = np.full((1, spec.N_ACTIONS), -1e9, np.float32)
    logits[0, [spec.A_LISTEN, spec.A_TRAVEL0, spec.A_HOLD]] = [5.0, 1.0, 0.0]
    correction = np.zeros_like(logits)
    correction[0, spec.A_CASH_OUT] = 1e10                  # a correction cannot unmask an action
    assert decide(logits, obs, correction, np.zeros((1, 6), np.float32)).tolist() == [spec.A_TRAVEL0]
    assert decide(logits, obs, np.zeros_like(logits), np.array([[-3, 0, 0, 0, 0, 0]], np.float32)).tolist() == [
        spec.A_HOLD]


def checkpoint_with_head(tmp_path, head: GreedyHead):
    path = make_checkpoint(tmp_path / "ckpt_4.pt", 5, **KWARGS)
    ckpt.save(path, {**ckpt.load(path), "greedy_head": head.state_dict()})
    return path


def test_the_head_travels_from_checkpoint_to_numpy_file_and_back(tmp_path):
    head = random_head(2)
    path = checkpoint_with_head(tmp_path, head)
    served = NumpyPolicy.load(export_numpy(path, tmp_path / "p.npz"))
    assert served.greedy_head is not None and np.array_equal(served.greedy_head.vector(), head.vector())
    assert served.greedy_head.memory_penalty == head.memory_penalty
    again = NumpyPolicy.load(served.save(tmp_path / "again.npz"))
    assert np.array_equal(again.greedy_head.vector(), head.vector())
    # a file whose header names a head without its arrays is refused, naming the file
    with np.load(tmp_path / "p.npz") as f:
        arrays = {k: f[k] for k in f.files if k != "greedy.u"}
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(PolicyFileError, match="broken.npz.*greedy.u"):
        NumpyPolicy.load(tmp_path / "broken.npz")


def test_suggest_plays_the_heads_choice_and_shows_the_policys_odds(tmp_path):
    engine = Engine(spec.EnvConfig(time_max=500), seed=4)
    obs, mask = engine.observation(), engine.action_mask()
    plain = NumpyPolicy.load(export_numpy(make_checkpoint(tmp_path / "ckpt_4.pt", 5, **KWARGS), tmp_path / "a.npz"))
    top, _, _, argmax = plain.suggest(obs, mask)
    head = GreedyHead.zero()
    head.W[N_READINGS - 1, :] = -50.0
    valid = [a for a, p in top[1:] if p > 0]
    head.W[N_READINGS - 1, valid[0]] = 50.0                 # the correction makes another action the choice
    with_head = NumpyPolicy.load(export_numpy(checkpoint_with_head(tmp_path, head), tmp_path / "b.npz"))
    suggestion = with_head.suggest(obs, mask)
    assert argmax == top[0][0] and suggestion.argmax == valid[0] != argmax
    assert suggestion.top == plain.suggest(obs, mask).top   # the odds are the policy's own


def test_torch_actor_and_numpy_player_play_the_head_alike(tmp_path):
    head = random_head(3, scale=0.5)
    path = checkpoint_with_head(tmp_path, head)
    policy, data = ckpt.load_policy(path)
    served = NumpyPolicy.load(export_numpy(path, tmp_path / "p.npz"))
    config = spec.EnvConfig(time_max=600).replace(reward_mode="shaped")
    seeds = [5, 6, 7]
    torch.set_num_threads(1)
    with Batch(len(seeds), config) as batch:
        by_torch = play_batch(Actor(policy, True, greedy_head=GreedyHead.from_state(data["greedy_head"])), batch, seeds)
    with Batch(len(seeds), config) as batch:
        by_numpy = play_batch(NumpyPlayer(served, greedy=True), batch, seeds)
    with Batch(len(seeds), config) as batch:
        plain = play_batch(Actor(policy, True, greedy=True), batch, seeds)
    assert [r["episode_return"] for r in by_torch] == pytest.approx([r["episode_return"] for r in by_numpy])
    assert [r["episode_return"] for r in by_torch] != pytest.approx([r["episode_return"] for r in plain])


def test_an_actor_with_a_head_acts_on_all_its_rows(tmp_path):
    policy, _ = ckpt.load_policy(make_checkpoint(tmp_path / "ckpt_4.pt", 5, **KWARGS))
    actor = Actor(policy, True, greedy_head=GreedyHead.zero())
    actor.start(2)
    engine = Engine(spec.EnvConfig(time_max=500), seed=1)
    obs, mask = engine.observation()[None, :], engine.action_mask()[None, :]
    with pytest.raises(ValueError, match="all the rows"):
        actor.act(obs, mask)
    decoder = GreedyDecoder(GreedyHead.zero(), 1)
    assert decoder.choose(np.zeros((1, spec.N_ACTIONS), np.float32), obs).shape == (1,)
