"""The travel memory behind "let the agent fly": a served model with a greedy head keeps one per
session (prospector_api.pretrained.TravelMemories), follows the session's steps through the session
store, and so does not fly back to a node of the same journey; a memory that missed a step (another
replica stepped the session, or it was reset) starts again instead of being wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prospector import spec
from prospector.engine import Engine
from prospector_api.pretrained import TravelMemories
from prospector_api.resources import build_resources
from prospector_common.policy import checkpoint as ckpt
from prospector_common.policy.greedy import N_READINGS, GreedyHead, TravelMemory
from prospector_common.policy.serving import NumpyPolicy, export_numpy

from common.test_greedy_head import neighbor_obs  # tests/ is on the path (pytest prepends it)
from .conftest import api_settings_for
from .test_suggest import _stack

TRAVELS = range(spec.A_TRAVEL0, spec.A_TRAVEL0 + spec.MAX_NEIGHBORS)
SEED = 5
FLIGHT = 40  # suggested steps


@pytest.fixture(scope="module")
def traveller_file(recorded, tmp_path_factory) -> Path:
    """The recorded run's window-1 policy with a greedy head that always travels (its constant row
    lifts every travel far above the rest) and a memory that rules out going back (penalty 1e6)."""
    directory = tmp_path_factory.mktemp("traveller")
    data = ckpt.load(recorded.data_dir / recorded.run_id / "checkpoints" / "ckpt_1.pt")
    head = GreedyHead.zero(memory_penalty=1e6)
    head.W[N_READINGS - 1, spec.A_TRAVEL0:spec.A_TRAVEL0 + spec.MAX_NEIGHBORS] = 1e4
    ckpt.save(directory / "policy.pt", {**data, "greedy_head": head.state_dict()})
    return export_numpy(directory / "policy.pt", directory / "policy.npz", name="traveller")


@pytest.fixture
def served_traveller(settings, prefix, traveller_file):
    yield from _stack(settings, api_settings_for(prefix, pretrained_model=traveller_file))


def node_of(observation) -> int:
    return int(TravelMemory.node(np.asarray(observation, np.float32)[None, :])[0])


def went_back(actions_and_nodes: list[tuple[int, int]], start: int) -> bool:
    """Whether a travel arrived at a node already visited since the last action that was not a travel."""
    journey = [start]
    for action, node in actions_and_nodes:
        if action not in TRAVELS:
            journey = [node]
        elif node != journey[-1]:
            if node in journey:
                return True
            journey.append(node)
    return False


def test_without_its_memory_the_traveller_flies_back_and_forth(traveller_file):
    """The premise of the test below: the same head played memoryless on the same seed goes back."""
    policy, engine = NumpyPolicy.load(traveller_file), Engine(seed=SEED)
    start, flown = node_of(engine.observation()), []
    for _ in range(FLIGHT):
        action = policy.suggest(engine.observation(), engine.action_mask()).argmax
        engine.step(action)
        flown.append((action, node_of(engine.observation())))
    assert sum(a in TRAVELS for a, _ in flown) > FLIGHT // 2
    assert went_back(flown, start)


def test_letting_the_agent_fly_never_goes_back_within_a_journey(served_traveller):
    client, _ = served_traveller
    created = client.post("/api/play/sessions", json={"seed": SEED, "include_state": False,
                                                      "include_observation": True}).json()
    sid, start = created["session_id"], node_of(created["observation"])
    flown = []
    for _ in range(FLIGHT):
        action = client.post(f"/api/play/sessions/{sid}/suggest").json()["action"]
        step = client.post(f"/api/play/sessions/{sid}/step",
                           json={"action": action, "include_state": False, "include_observation": True}).json()
        flown.append((action, node_of(step["observation"])))
    assert sum(a in TRAVELS for a, _ in flown) > FLIGHT // 2
    assert not went_back(flown, start)


def test_a_session_without_suggestions_is_not_followed(settings, prefix, traveller_file):
    resources = build_resources(settings, api_settings_for(prefix, pretrained_model=traveller_file))
    try:
        assert resources.store.step_listener is resources.pretrained.memories
    finally:
        resources.close()
    for client, _ in _stack(settings, api_settings_for(prefix, pretrained_model=traveller_file)):
        sid = client.post("/api/play/sessions", json={"include_state": False}).json()["session_id"]
        client.post(f"/api/play/sessions/{sid}/step", json={"action": spec.A_LISTEN, "include_state": False})
        memories = client.app.state.resources.pretrained.memories
        assert not memories.follows(sid)
        client.post(f"/api/play/sessions/{sid}/suggest")
        assert memories.follows(sid)


# ---- TravelMemories on synthetic observations (tests/common/test_greedy_head.py's) ---------------

AT_A = neighbor_obs(3, 0, [(1, 0.2), (2, 0.5)])[0]   # node 3; its slot 1 leads to node 7
AT_B = neighbor_obs(7, 2, [(1, 0.3), (0, 0.5)])[0]   # node 7; its slot 1 leads back to node 3
BACK = [[0, -3, 0, 0, 0, 0]]


def test_a_followed_travel_is_remembered():
    memories = TravelMemories()
    assert not memories.penalties("s", 10, AT_A, 3.0).any()
    memories.stepped("s", 11, AT_A, spec.A_TRAVEL0 + 1, AT_B)
    assert memories.penalties("s", 11, AT_B, 3.0).tolist() == BACK


def test_a_missed_step_starts_the_memory_again():
    memories = TravelMemories()
    memories.penalties("s", 10, AT_A, 3.0)
    memories.stepped("s", 12, AT_A, spec.A_TRAVEL0 + 1, AT_B)   # version 11 was stepped elsewhere
    assert not memories.follows("s")
    assert not memories.penalties("s", 12, AT_B, 3.0).any()     # forgetful, not wrong
    memories.penalties("t", 4, AT_A, 3.0)
    memories.stepped("t", 5, AT_A, spec.A_TRAVEL0 + 1, AT_B)
    assert not memories.penalties("t", 6, AT_B, 3.0).any()      # a reset or a step elsewhere since


def test_the_memories_are_bounded():
    memories = TravelMemories(capacity=3)
    for i in range(5):
        memories.penalties(f"s{i}", 0, AT_A, 3.0)
    assert len(memories) == 3 and not memories.follows("s0") and memories.follows("s4")


def test_the_flight_is_the_greedy_heads_game():
    """Suggestions with the per-session memory (followed step by step, as the session store tells it)
    choose what the evaluator's greedy player (GreedyDecoder) plays, on the shipped model."""
    from prospector_common.policy.greedy import GreedyDecoder
    from prospector_common.policy.pretrained import default_model_dir

    policy = NumpyPolicy.load(default_model_dir() / "policy.npz")
    assert policy.greedy_head is not None
    memories, decoder = TravelMemories(), GreedyDecoder(policy.greedy_head, 1)
    engine, version, travels = Engine(seed=SEED), 0, 0
    for _ in range(400):
        obs, mask = engine.observation().copy(), engine.action_mask().copy()
        penalties = memories.penalties("s", version, obs, policy.greedy_head.memory_penalty)
        flown = policy.suggest(obs, mask, travel_penalties=penalties).argmax
        logits, _, _ = policy.forward(obs[None, :], mask[None, :])
        assert flown == int(decoder.choose(logits, obs[None, :])[0])
        engine.step(flown)
        version += 1
        memories.stepped("s", version, obs, flown, engine.observation())
        travels += flown in TRAVELS
        if engine.done:
            break
    assert travels > 0
