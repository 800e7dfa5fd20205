"""The greedy head: how a sampled policy is played deterministically (LEARNING.md, E21-E22).

A PPO policy's argmax is not its best deterministic play: where it is unsure, its likeliest
action starts a short trip home, and from two neighboring nodes that each look like a good
move it travels back and forth until the tank is empty. The greedy head plays

    argmax( policy logits + correction(observation) + travel memory penalty )   (idle set masked)

- the **correction** is linear in a few readings of the observation: ship readings (fuel, hull,
  heat, tool, hold, alert, time, at the station, a selection, hops home, 1) for every action
  (W [11, 69]), each asteroid slot's features (estimated value at today's prices, stability,
  depletion, confidence, selected, 1) for its SELECT (u [6], shared by the 16 slots), and the
  selected asteroid's features for the three MINE intensities (v [6, 3]). It is fitted after
  training by evolution strategies on the greedy game's net profit (prospector_trainer.greedy_fit);
- the **travel memory** (TravelMemory) learns the belt's graph as the ship travels and gives
  `memory_penalty` to a travel towards a node already visited since the last action that was not
  a travel: it ends the cycles of travels a memoryless argmax falls into;
- the **idle set** (noops.idle_actions) is masked: actions that in the state only cost.

A head travels with its policy: in a trainer checkpoint under "greedy_head" (state_dict()), in a
numpy policy file as arrays greedy.W, greedy.u, greedy.v and the header's "greedy_head"
(serving.py). Everything here is numpy: the API plays it without torch.

    head = GreedyHead.from_state(checkpoint["greedy_head"])
    decoder = GreedyDecoder(head, n)          # one travel memory per row
    actions = decoder.choose(logits, observations)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prospector import spec

from .noops import MASKED_LOGIT, idle_actions

STATE_FORMAT = "prospector-greedy-head"
STATE_VERSION = 1

# the ship readings of the correction, then a constant 1
READINGS = (spec.OBS_FUEL, spec.OBS_HULL, spec.OBS_HEAT, spec.OBS_TOOL, spec.OBS_CARGO_TOTAL, spec.OBS_ALERT,
            spec.OBS_TIME_REMAINING, spec.OBS_AT_STATION, spec.OBS_HAS_SELECTION, spec.OBS_HOPS_TO_STATION)
N_READINGS = len(READINGS) + 1
N_SLOT_FEATURES = 6   # estimated value at today's prices, stability, depletion, confidence, selected, 1
SHAPES = {"W": (N_READINGS, spec.N_ACTIONS), "u": (N_SLOT_FEATURES,), "v": (N_SLOT_FEATURES, 3)}
N_PARAMS = sum(int(np.prod(s)) for s in SHAPES.values())
DEFAULT_MEMORY_PENALTY = 3.0

_SLOT = spec.ASTEROID_BASE + spec.ASTEROID_STRIDE * np.arange(spec.MAX_ASTEROIDS)
_COMPOSITION = _SLOT[:, None] + np.arange(spec.AST_COMPOSITION.start, spec.AST_COMPOSITION.stop)[None, :]
_NEIGHBOR = spec.NEIGHBOR_BASE + spec.NEIGHBOR_STRIDE * np.arange(spec.MAX_NEIGHBORS)
_SELECT = slice(spec.A_SELECT0, spec.A_SELECT0 + spec.MAX_ASTEROIDS)
_MINE = slice(spec.A_MINE0, spec.A_MINE0 + 3)


class GreedyHeadError(ValueError):
    """A greedy head whose state is not one (wrong format, shapes or values)."""


def readings(obs: np.ndarray) -> np.ndarray:
    """[n, N_READINGS]: the ship readings of observations [n, >=260], then 1."""
    return np.concatenate([obs[:, READINGS], np.ones((obs.shape[0], 1), np.float32)], axis=1).astype(np.float32)


def slot_features(obs: np.ndarray) -> np.ndarray:
    """[n, 16, N_SLOT_FEATURES]: each asteroid slot's estimated value at the current prices,
    stability, depletion, scan confidence, selected flag, and 1."""
    n = obs.shape[0]
    f = np.empty((n, spec.MAX_ASTEROIDS, N_SLOT_FEATURES), dtype=np.float32)
    f[:, :, 0] = (obs[:, _COMPOSITION] * obs[:, spec.OBS_PRICE][:, None, :]).sum(axis=-1)
    f[:, :, 1] = obs[:, _SLOT + spec.AST_STABILITY]
    f[:, :, 2] = obs[:, _SLOT + spec.AST_DEPLETION]
    f[:, :, 3] = obs[:, _SLOT + spec.AST_CONFIDENCE]
    f[:, :, 4] = obs[:, _SLOT + spec.AST_SELECTED]
    f[:, :, 5] = 1.0
    return f


def corrections(obs: np.ndarray, W: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The correction [n, 69] for observations [n, >=260]. One head: W [11, 69], u [6], v [6, 3].
    A population of m heads (the fitter's): W [m, 11, 69], u [m, 6], v [m, 6, 3], with the rows
    in m equal consecutive groups, group j played by head j."""
    obs = np.asarray(obs, dtype=np.float32)
    n = obs.shape[0]
    m = 1 if W.ndim == 2 else W.shape[0]
    if n % m:
        raise ValueError(f"{n} rows do not split into {m} equal groups")
    g = n // m
    W = W.reshape(m, N_READINGS, spec.N_ACTIONS)
    u, v = u.reshape(m, N_SLOT_FEATURES, 1), v.reshape(m, N_SLOT_FEATURES, 3)
    out = (readings(obs).reshape(m, g, N_READINGS) @ W).reshape(n, spec.N_ACTIONS)
    f = slot_features(obs)
    out[:, _SELECT] += (f.reshape(m, g * spec.MAX_ASTEROIDS, N_SLOT_FEATURES) @ u).reshape(n, spec.MAX_ASTEROIDS)
    selected = (f[:, :, 4:5] * f).sum(axis=1)      # the selected slot's features (zeros when none)
    out[:, _MINE] += (selected.reshape(m, g, N_SLOT_FEATURES) @ v).reshape(n, 3)
    return out


@dataclass
class GreedyHead:
    """The fitted correction and the memory's penalty (see the module doc); `fitted` says how
    (seeds, generations, the fitter's settings and scores), for the model card."""

    W: np.ndarray
    u: np.ndarray
    v: np.ndarray
    memory_penalty: float = DEFAULT_MEMORY_PENALTY
    fitted: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, shape in SHAPES.items():
            array = np.asarray(getattr(self, name))
            if array.shape != shape:
                raise GreedyHeadError(f"greedy head {name} has shape {array.shape}, needs {shape}")
            if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
                raise GreedyHeadError(f"greedy head {name} must hold finite numbers")
            setattr(self, name, np.ascontiguousarray(array, dtype=np.float32))
        penalty = self.memory_penalty
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not 0 <= penalty <= 1e6:
            raise GreedyHeadError(f"greedy head memory_penalty must be a number in 0..1e6, got {penalty!r}")
        self.memory_penalty = float(penalty)
        if not isinstance(self.fitted, dict):
            raise GreedyHeadError("greedy head 'fitted' must be a JSON object")

    @classmethod
    def zero(cls, memory_penalty: float = DEFAULT_MEMORY_PENALTY) -> GreedyHead:
        """No correction: the argmax with the travel memory and the idle set masked."""
        return cls.from_vector(np.zeros(N_PARAMS, np.float32), memory_penalty)

    @classmethod
    def from_vector(cls, theta: np.ndarray, memory_penalty: float = DEFAULT_MEMORY_PENALTY,
                    fitted: dict | None = None) -> GreedyHead:
        """From the fitter's flat parameter vector [N_PARAMS] (W, u, v in that order)."""
        theta = np.asarray(theta, dtype=np.float32)
        if theta.shape != (N_PARAMS,):
            raise GreedyHeadError(f"a greedy head has {N_PARAMS} parameters, got shape {theta.shape}")
        parts, i = {}, 0
        for name, shape in SHAPES.items():
            size = int(np.prod(shape))
            parts[name] = theta[i:i + size].reshape(shape)
            i += size
        return cls(**parts, memory_penalty=memory_penalty, fitted=dict(fitted or {}))

    def vector(self) -> np.ndarray:
        return np.concatenate([self.W.ravel(), self.u.ravel(), self.v.ravel()]).astype(np.float32)

    def correction(self, obs: np.ndarray) -> np.ndarray:
        return corrections(obs, self.W, self.u, self.v)

    # ---- storage: a checkpoint's "greedy_head", a numpy policy file's arrays and header -------

    def state_dict(self) -> dict[str, Any]:
        """Plain data (lists and numbers): what a trainer checkpoint keeps under "greedy_head"."""
        return {"format": STATE_FORMAT, "format_version": STATE_VERSION, "memory_penalty": self.memory_penalty,
                "fitted": self.fitted, **{name: getattr(self, name).tolist() for name in SHAPES}}

    @classmethod
    def from_state(cls, state: Any) -> GreedyHead:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise GreedyHeadError(f"not a {STATE_FORMAT} state")
        if state.get("format_version") != STATE_VERSION:
            raise GreedyHeadError(f"greedy head version {state.get('format_version')!r}, this code reads {STATE_VERSION}")
        try:
            arrays = {name: np.asarray(state[name], dtype=np.float32) for name in SHAPES}
        except (KeyError, TypeError, ValueError) as exc:
            raise GreedyHeadError(f"greedy head state lacks or garbles its arrays ({exc})") from None
        return cls(**arrays, memory_penalty=state.get("memory_penalty", DEFAULT_MEMORY_PENALTY),
                   fitted=state.get("fitted", {}))

    def file_arrays(self) -> dict[str, np.ndarray]:
        return {f"greedy.{name}": getattr(self, name) for name in SHAPES}

    def file_header(self) -> dict[str, Any]:
        return {"memory_penalty": self.memory_penalty, "fitted": self.fitted}

    @classmethod
    def from_file(cls, header: Any, arrays: dict[str, np.ndarray]) -> GreedyHead:
        if not isinstance(header, dict):
            raise GreedyHeadError("the header's greedy_head must be a JSON object")
        missing = [f"greedy.{name}" for name in SHAPES if f"greedy.{name}" not in arrays]
        if missing:
            raise GreedyHeadError(f"the header names a greedy head but the file lacks {', '.join(missing)}")
        return cls(**{name: arrays[f"greedy.{name}"] for name in SHAPES},
                   memory_penalty=header.get("memory_penalty", DEFAULT_MEMORY_PENALTY),
                   fitted=header.get("fitted", {}))


class TravelMemory:
    """Per row: the belt's graph as learned while travelling (slot k of node A leads to node B;
    edges are symmetric, so the slot of B that leads back is the one with A's type and the same
    travel time), and the nodes visited since the last action that was not a travel.

    Call observe(obs) before choosing (it reads what the previous action led to), penalties(obs)
    for the travel slots, then acted(obs, actions)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.edge = np.full((n, spec.MAX_NODES, spec.MAX_NEIGHBORS), -1, dtype=np.int16)
        self.visited = np.zeros((n, spec.MAX_NODES), dtype=bool)
        self.prev_action = np.full(n, -1, dtype=np.int64)
        self.prev_node = np.zeros(n, dtype=np.int64)
        self.prev_obs = np.zeros((n, spec.OBS_DIM), dtype=np.float32)

    @staticmethod
    def node(obs: np.ndarray) -> np.ndarray:
        return np.rint(obs[:, spec.OBS_NODE_INDEX] * (spec.MAX_NODES - 1)).astype(np.int64)

    def observe(self, obs: np.ndarray) -> None:
        node = self.node(obs)
        rows = np.arange(self.n)
        travelled = (self.prev_action >= spec.A_TRAVEL0) & (self.prev_action < spec.A_TRAVEL0 + spec.MAX_NEIGHBORS)
        moved = np.flatnonzero(travelled & (node != self.prev_node))
        if len(moved):
            a, b, k = self.prev_node[moved], node[moved], self.prev_action[moved] - spec.A_TRAVEL0
            self.edge[moved, a, k] = b
            before = self.prev_obs[moved]
            time_ab = before[np.arange(len(moved)), _NEIGHBOR[k] + spec.NB_TRAVEL_TIME]
            type_a = before[:, spec.OBS_NODE_TYPE]
            after = obs[moved]
            for j in range(spec.MAX_NEIGHBORS):   # the slot of b that leads back to a
                slot = after[:, spec.neighbor_slot(j)]
                back = ((slot[:, spec.NB_VALID] > 0.5) & (np.abs(slot[:, spec.NB_TRAVEL_TIME] - time_ab) < 1e-5)
                        & (np.abs(slot[:, spec.NB_TYPE] - type_a).sum(axis=1) < 1e-3))
                self.edge[moved[back], b[back], j] = a[back]
        stayed = ~travelled & (self.prev_action >= 0)
        self.visited[stayed] = False
        self.visited[rows, node] = True
        self.prev_node = node

    def penalties(self, obs: np.ndarray, penalty: float) -> np.ndarray:
        """[n, 6]: -penalty for a travel slot that leads to a node visited since the last non-travel action."""
        rows = np.arange(self.n)
        target = self.edge[rows, self.node(obs)]
        known = target >= 0
        seen = known & self.visited[rows[:, None], np.where(known, target, 0)]
        return np.where(seen, np.float32(-penalty), np.float32(0.0))

    def acted(self, obs: np.ndarray, actions: np.ndarray) -> None:
        self.prev_obs[:] = obs[:, :spec.OBS_DIM]
        self.prev_action[:] = actions

    def forget(self, rows: Any) -> None:
        """A new episode on these rows (another belt)."""
        self.edge[rows] = -1
        self.visited[rows] = False
        self.prev_action[rows] = -1


def head_of_checkpoint(checkpoint: dict) -> GreedyHead | None:
    """The greedy head a trainer checkpoint carries (under "greedy_head"), None when it has none;
    GreedyHeadError when it carries a broken one."""
    state = checkpoint.get("greedy_head")
    return None if state is None else GreedyHead.from_state(state)


class GreedyDecoder:
    """Deterministic actions for n rows from a policy's logits (already masked by the policy).
    `head` is a GreedyHead, or anything with its correction(obs) and memory_penalty (the fitter's
    population of heads)."""

    def __init__(self, head: GreedyHead, n: int) -> None:
        self.head = head
        self.memory = TravelMemory(n)

    def choose(self, logits: np.ndarray, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        self.memory.observe(obs)
        actions = decide(np.asarray(logits, dtype=np.float32), obs, self.head.correction(obs),
                         self.memory.penalties(obs, self.head.memory_penalty))
        self.memory.acted(obs, actions)
        return actions

    def episodes_ended(self, rows: Any) -> None:
        self.memory.forget(rows)


def decide(logits: np.ndarray, obs: np.ndarray, correction: np.ndarray, travel_penalties: np.ndarray) -> np.ndarray:
    """argmax of logits + correction + the travel penalties, the idle set and what the policy masked
    left out (int32 [n])."""
    z = logits + correction
    z[:, spec.A_TRAVEL0:spec.A_TRAVEL0 + spec.MAX_NEIGHBORS] += travel_penalties
    z[(logits <= MASKED_LOGIT / 2) | idle_actions(obs)] = MASKED_LOGIT
    return z.argmax(axis=1).astype(np.int32)
