"""The pretrained model behind the play page's suggestions: what the agent would do here.

    model = load_pretrained(api_settings)    # once per process (build_resources)
    reply = model.suggest(observation, mask)  # {"model", "action", "top", "value", "entropy"}

The model is a numpy policy file (prospector_common.policy.serving: the trained
network's exact forward pass, no torch), named by PROSPECTOR_PRETRAINED_MODEL or,
by default, the shipped `models/ppo-pretrained/policy.npz` when it exists. A
file that is set but unreadable does not stop the API: it logs the reason once,
and every suggestion answers it (HTTP 503, gRPC FAILED_PRECONDITION), as when no
model is configured at all; /api/meta says `"pretrained": null` then.

A recurrent (LSTM) model is asked from a fresh recurrent state at every
suggestion: the API keeps no per-session model state.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prospector_common.policy.serving import NumpyPolicy, PolicyFileError

from .schemas import PretrainedOut

log = logging.getLogger("prospector.api")

TOP_K = 5


class NoModel(Exception):
    """No pretrained model is served here; str() says why (for the client)."""


@dataclass
class Pretrained:
    """The served model, or why there is none."""

    policy: NumpyPolicy | None
    reason: str = ""
    path: Path | None = None

    @property
    def name(self) -> str | None:
        return self.policy.name if self.policy is not None else None

    def meta(self) -> PretrainedOut | None:
        """/api/meta's "pretrained": {"name": ...}, or None."""
        return PretrainedOut(name=self.policy.name) if self.policy is not None else None

    def suggest(self, observation: Any, mask: Any) -> dict[str, Any]:
        """The reply of a suggestion (see SuggestionOut); NoModel when there is none."""
        if self.policy is None:
            raise NoModel(self.reason)
        top, value, entropy, argmax = self.policy.suggest(observation, mask, TOP_K)
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
