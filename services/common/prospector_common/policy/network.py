"""The policy network, in the form PuffeRL expects (shared by the trainer and the evaluator).

PuffeRL calls `policy.forward_eval(obs, state)` while collecting experience
and `policy(obs, state)` (forward) while learning; both return
(logits [B, 69], value). Like pufferlib.models.Default, the MLP splits into
encode_observations / decode_actions, so PufferLib's LSTMWrapper can put an
LSTM cell between the two (`ProspectorLSTM`).

Action masking (optional): the env appends the engine's 69 mask flags to the
observation (the trainer's TrainerEnv, mask_in_obs; policy_input below), so the mask travels with each
observation through PuffeRL's rollout buffer. Invalid actions get a logit of
-1e9 (probability exactly 0 in float32, entropy stays finite), in both the
acting and the learning pass, so the stored log-probabilities and the
re-evaluated ones agree. The mask flags are also inputs of the encoder.

No-op masking (optional, `mask_noops`): on top of the engine's mask, the actions that
are valid but change nothing the policy could want (noops.py) get MASKED_LOGIT too, so
an argmax policy has no do-nothing action to repeat forever. Idle masking (optional,
`mask_idle`) does the same for noops.py's wider set of actions that only cost in the state.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from pufferlib.models import LSTMWrapper
from pufferlib.pytorch import layer_init

from prospector import spec

from . import noops
from .noops import MASKED_LOGIT

# noops' column indices, as tensors
SELECT_VALID = torch.as_tensor(noops.SELECT_VALID)
SELECT_SELECTED = torch.as_tensor(noops.SELECT_SELECTED)
COLUMN_OF_SELL = torch.as_tensor(noops.COLUMN_OF_SELL)


def obs_dim(action_masking: bool) -> int:
    return spec.OBS_DIM + (spec.N_ACTIONS if action_masking else 0)


def apply_mask(logits: torch.Tensor, observations: torch.Tensor) -> torch.Tensor:
    """Invalid actions (mask flag 0 in the last 69 observation floats) get MASKED_LOGIT."""
    mask = observations.reshape(-1, observations.shape[-1])[:, spec.OBS_DIM:]
    return logits.masked_fill(mask < 0.5, MASKED_LOGIT)


def noop_actions(observations: torch.Tensor) -> torch.Tensor:
    """noops.noop_actions for a tensor of observations [B, >=260] (bool [B, 69])."""
    obs = observations.reshape(-1, observations.shape[-1])
    out = torch.zeros(obs.shape[0], spec.N_ACTIONS, dtype=torch.bool, device=obs.device)
    out[:, spec.A_SELECT0:spec.A_SELECT0 + spec.MAX_ASTEROIDS] = (
        (obs[:, SELECT_VALID] < 0.5) | (obs[:, SELECT_SELECTED] > 0.5))
    empty = obs[:, spec.OBS_CARGO] < noops.EMPTY_CARGO
    out[:, spec.A_SELL0:spec.A_SELL0 + len(COLUMN_OF_SELL)] = empty[:, COLUMN_OF_SELL]
    calm = (obs[:, spec.OBS_HEAT] < noops.QUIET) & (obs[:, spec.OBS_ALERT] < noops.QUIET)
    out[:, spec.A_HOLD] = calm
    out[:, spec.A_DOCK] = calm
    return out


def apply_noop_mask(logits: torch.Tensor, observations: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(noop_actions(observations), MASKED_LOGIT)


def idle_actions(observations: torch.Tensor) -> torch.Tensor:
    """noops.idle_actions for a tensor of observations [B, >=260] (bool [B, 69])."""
    obs = observations.reshape(-1, observations.shape[-1])
    out = torch.zeros(obs.shape[0], spec.N_ACTIONS, dtype=torch.bool, device=obs.device)
    full_hull, full_tool = obs[:, spec.OBS_HULL] >= noops.FULL, obs[:, spec.OBS_TOOL] >= noops.FULL
    out[:, spec.A_LISTEN] = obs[:, spec.OBS_AT_STATION] > 0.5
    out[:, spec.A_BUY_FUEL0:spec.A_BUY_FUEL0 + 3] = (obs[:, spec.OBS_FUEL] >= noops.FULL)[:, None]
    out[:, spec.A_COOLDOWN] = obs[:, spec.OBS_HEAT] < noops.QUIET
    out[:, spec.A_TOOL_MAINT] = full_tool
    out[:, spec.A_HULL_PATCH] = full_hull
    out[:, spec.A_OVERHAUL] = full_hull & full_tool
    out[:, spec.A_BUY_KIT] = obs[:, spec.OBS_REPAIR_KITS] >= noops.FULL
    out[:, spec.A_BUY_STABILIZER] = obs[:, spec.OBS_STABILIZERS] >= noops.FULL
    out[:, spec.A_BUY_DECOY] = obs[:, spec.OBS_DECOYS] >= noops.FULL
    return out


def forbidden_mask(forbid_cash_out: bool, forbid_jettison: bool = False) -> torch.Tensor:
    """Actions this policy never takes, whatever the engine allows (a bool [69] buffer)."""
    m = torch.zeros(spec.N_ACTIONS, dtype=torch.bool)
    if forbid_cash_out:
        m[spec.A_CASH_OUT] = True
    if forbid_jettison:
        m[spec.A_JETTISON0:spec.A_JETTISON0 + spec.N_COMMODITIES] = True
    return m


class ProspectorMLP(nn.Module):
    """Two GELU layers shared by a linear actor head and a linear critic head."""

    def __init__(self, hidden_size: int = 128, action_masking: bool = False, forbid_cash_out: bool = False,
                 forbid_jettison: bool = False, mask_noops: bool = False, mask_idle: bool = False):
        super().__init__()
        self.hidden_size = hidden_size
        self.action_masking = action_masking
        self.mask_noops = mask_noops
        self.mask_idle = mask_idle
        self.register_buffer("forbidden", forbidden_mask(forbid_cash_out, forbid_jettison), persistent=False)
        self.is_continuous = False  # read by LSTMWrapper
        self.encoder = nn.Sequential(
            layer_init(nn.Linear(obs_dim(action_masking), hidden_size)),
            nn.GELU(),
            layer_init(nn.Linear(hidden_size, hidden_size)),
            nn.GELU(),
        )
        self.actor = layer_init(nn.Linear(hidden_size, spec.N_ACTIONS), std=0.01)
        self.critic = layer_init(nn.Linear(hidden_size, 1), std=1.0)

    def encode_observations(self, observations, state=None):
        return self.encoder(observations.reshape(observations.shape[0], -1).float())

    def decode_actions(self, hidden):
        logits = self.actor(hidden)
        if self.forbidden.any():
            logits = logits.masked_fill(self.forbidden, MASKED_LOGIT)
        return logits, self.critic(hidden)

    def forward_eval(self, observations, state=None):
        logits, value = self.decode_actions(self.encode_observations(observations, state))
        return masked(self, logits, observations), value

    def forward(self, observations, state=None):
        return self.forward_eval(observations, state)


class ProspectorLSTM(LSTMWrapper):
    """PufferLib's LSTMWrapper around ProspectorMLP, with the same optional masking.

    The wrapper's recurrent state lives in PuffeRL (state["lstm_h"/"lstm_c"]);
    PuffeRL zeroes it at the start of each rollout segment, not at episode ends."""

    def __init__(self, hidden_size: int = 128, action_masking: bool = False, forbid_cash_out: bool = False,
                 forbid_jettison: bool = False, mask_noops: bool = False, mask_idle: bool = False):
        base = ProspectorMLP(hidden_size, action_masking, forbid_cash_out, forbid_jettison, mask_noops, mask_idle)
        super().__init__(_Spaces(obs_dim(action_masking)), base, input_size=hidden_size, hidden_size=hidden_size)
        self.action_masking = action_masking
        self.mask_noops = mask_noops
        self.mask_idle = mask_idle

    def forward_eval(self, observations, state):
        logits, value = super().forward_eval(observations, state)
        return masked(self, logits, observations), value

    def forward(self, observations, state):
        logits, value = super().forward(observations, state)
        return masked(self, logits, observations), value


def masked(policy, logits: torch.Tensor, observations: torch.Tensor) -> torch.Tensor:
    """The policy's logits after its masks: the engine's (action_masking), then the no-ops."""
    if policy.action_masking:
        logits = apply_mask(logits, observations)
    if policy.mask_noops:
        logits = apply_noop_mask(logits, observations)
    if policy.mask_idle:
        logits = logits.masked_fill(idle_actions(observations), MASKED_LOGIT)
    return logits


class _Spaces:
    """The one attribute LSTMWrapper reads from an env."""

    def __init__(self, dim: int):
        import gymnasium
        import numpy as np

        self.single_observation_space = gymnasium.spaces.Box(-1.0, 1.0, (dim,), np.float32)


def make_policy(kind: str = "mlp", hidden_size: int = 128, action_masking: bool = False,
                forbid_cash_out: bool = False, forbid_jettison: bool = False, mask_noops: bool = False,
                mask_idle: bool = False) -> nn.Module:
    if kind == "mlp":
        return ProspectorMLP(hidden_size, action_masking, forbid_cash_out, forbid_jettison, mask_noops, mask_idle)
    if kind == "lstm":
        return ProspectorLSTM(hidden_size, action_masking, forbid_cash_out, forbid_jettison, mask_noops, mask_idle)
    raise ValueError(f"policy kind must be 'mlp' or 'lstm', got {kind!r}")


def policy_input(observations: np.ndarray, masks: np.ndarray | None, mask_in_obs: bool) -> np.ndarray:
    """What the policy reads for engine observations [n, 260] and masks [n, 69]: the
    observation, followed by the mask flags when the policy masks (see the trainer's env)."""
    if not mask_in_obs:
        return np.asarray(observations, dtype=np.float32)
    return np.concatenate([np.asarray(observations, dtype=np.float32),
                           np.asarray(masks, dtype=np.float32)], axis=1)
