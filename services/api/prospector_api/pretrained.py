"""The pretrained model behind the play page's suggestions: what the agent would do here.

    model = load_pretrained(api_settings)    # once per process (build_resources)
    reply = model.suggest(observation, mask)  # {"model", "action", "top", "value", "entropy"}

The model is a numpy policy file (prospector_common.policy.serving: the trained
network's exact forward pass, no torch), named by PROSPECTOR_PRETRAINED_MODEL or,
by default, the shipped `models/ppo-pretrained/policy.npz` when it exists. A
file that is set but unreadable does not stop the API: it logs the reason once,
and every suggestion answers it (HTTP 503, gRPC FAILED_PRECONDITION), as when no
model is configured at all; /api/meta says `"pretrained": null` then.

A model with a greedy head (prospector_common.policy.greedy) plays its head's
choice, with the head's travel memory kept per session (TravelMemories): it
follows every step this process commits on a session it has suggested for (the
session store's step listener), so "let the agent fly" does not travel back and
forth between two nodes. A memory that missed a step (the session was stepped
by another replica, or reset) starts again from the session as it stands:
forgetful, never wrong. A recurrent (LSTM) model is asked from a fresh recurrent
state at every suggestion: the API keeps no other per-session model state.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prospector_common.policy.greedy import TravelMemory
from prospector_common.policy.serving import NumpyPolicy, PolicyFileError

from .schemas import PretrainedOut

log = logging.getLogger("prospector.api")

TOP_K = 5


class NoModel(Exception):
    """No pretrained model is served here; str() says why (for the client)."""


class TravelMemories:
    """The greedy head's travel memory of each session this process suggests for: the session
    store's StepListener. A memory is kept at the version of the session it has seen (the
    session's commit count): a step from that version moves it on, anything else drops it, and
    a suggestion at another version starts a new one from the session as it stands."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._memories: OrderedDict[str, tuple[TravelMemory, int]] = OrderedDict()
        self._lock = threading.Lock()  # HTTP's and gRPC's event loops run on two threads

    def __len__(self) -> int:
        return len(self._memories)

    def follows(self, session_id: str) -> bool:
        return session_id in self._memories

    def stepped(self, session_id: str, version: int, before: np.ndarray, action: int, after: np.ndarray) -> None:
        with self._lock:
            kept = self._memories.pop(session_id, None)
            if kept is None or kept[1] != version - 1:
                return  # it missed a step: the next suggestion starts a new one
            memory = kept[0]
            memory.acted(before[None, :], np.array([action]))
            memory.observe(after[None, :])
            self._memories[session_id] = (memory, version)

    def penalties(self, session_id: str, version: int, observation: np.ndarray, penalty: float) -> np.ndarray:
        """[1, 6]: the head's penalties of the travel slots for the session at `version`."""
        obs = np.asarray(observation, dtype=np.float32)[None, :]
        with self._lock:
            kept = self._memories.pop(session_id, None)
            if kept is None or kept[1] != version:
                memory = TravelMemory(1)
                memory.observe(obs)
                kept = (memory, version)
            self._memories[session_id] = kept
            while len(self._memories) > self.capacity:
                self._memories.popitem(last=False)
            return kept[0].penalties(obs, penalty)


@dataclass
class Pretrained:
    """The served model, or why there is none; with a greedy head, its sessions' travel memories."""

    policy: NumpyPolicy | None
    reason: str = ""
    path: Path | None = None
    memories: TravelMemories = field(default_factory=TravelMemories)

    @property
    def has_travel_memory(self) -> bool:
        return self.policy is not None and self.policy.greedy_head is not None

    @property
    def name(self) -> str | None:
        return self.policy.name if self.policy is not None else None

    def meta(self) -> PretrainedOut | None:
        """/api/meta's "pretrained": {"name": ...}, or None."""
        return PretrainedOut(name=self.policy.name) if self.policy is not None else None

    def suggest(self, observation: Any, mask: Any, session: tuple[str, int] | None = None) -> dict[str, Any]:
        """The reply of a suggestion (see SuggestionOut); NoModel when there is none. `session`
        (session id, version; SessionStore.observe's): the suggestion uses and keeps that
        session's travel memory (a head's only)."""
        if self.policy is None:
            raise NoModel(self.reason)
        penalties = None
        if session is not None and self.has_travel_memory:
            penalties = self.memories.penalties(*session, observation, self.policy.greedy_head.memory_penalty)
        top, value, entropy, argmax = self.policy.suggest(observation, mask, TOP_K, travel_penalties=penalties)
        return {"model": self.policy.name, "action": argmax,
                "top": [[action, round(p, 4)] for action, p in top],
                "value": _significant(value), "entropy": round(max(0.0, entropy), 4)}


def _significant(x: float, digits: int = 4) -> float:
    return float(format(x, f".{digits}g")) if math.isfinite(x) else 0.0


def load_pretrained(api_settings: Any) -> Pretrained:
    """The model the settings name (see the module doc); never raises for a bad file."""
    path = api_settings.pretrained_model_path()
    if path is None:
        return Pretrained(None, "no pretrained model is served here: set PROSPECTOR_PRETRAINED_MODEL to a policy "
                                "file (prospector_common.policy.serving.export_numpy writes one), or place the "
                                "shipped model at models/ppo-pretrained/policy.npz")
    try:
        policy = NumpyPolicy.load(path)
    except PolicyFileError as exc:
        log.error("the pretrained model is not served: %s", exc)
        return Pretrained(None, f"the pretrained model could not be loaded: {exc}", Path(path))
    log.info("pretrained model %r from %s (%s, hidden size %d)", policy.name, path, policy.kind, policy.hidden_size)
    return Pretrained(policy, path=Path(path))
