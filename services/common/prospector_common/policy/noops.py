"""No-op actions: valid under the engine's mask, but changing nothing a policy could want.

A greedy (argmax) policy that picks one of these in a state where it is unsure keeps the
state as it was, so it picks the same action again, forever (LEARNING.md, E7: SELECT of the
asteroid already selected, DOCK at the station with nothing to cool, SELL of a commodity
whose hold is an unsellable remainder of a 25 % / 50 % sale). A policy trained with
`mask_noops` never takes them. Everything here is read from the observation alone, so the
trainer, the evaluator and the numpy forward pass compute the same set (network.noop_actions
is the torch twin of noop_actions, tested against it):

- SELECT_ASTEROID a: slot a is empty, or already the selected one;
- SELL c (all three buckets): the hold of c is below EMPTY_CARGO (0.05 units: a sale of it
  pays almost nothing, and a 25 %/50 % sale never empties it);
- HOLD and DOCK: heat and alert are both below QUIET (there is nothing left to cool or calm).

Idle actions (`mask_idle`, a second and wider set, E19) are valid actions that in this state
only cost: a greedy policy that likes one of them at the station pays for it forever (traced:
BUY_FUEL with a full tank, COOLDOWN and DOCK in turn, LISTEN):

- LISTEN at the station (no threat reaches the station; forbidding it there cost the sampled
  policy nothing on 50 tuning seeds, E19);
- BUY_FUEL (all sizes) with the tank FULL; COOLDOWN below QUIET heat;
- TOOL_MAINTENANCE with the tool FULL, HULL_PATCH with the hull FULL, the overhaul with both;
- BUY of a repair kit, stabilizer or decoy already at 10 (where the observation stops counting).
"""

from __future__ import annotations

import numpy as np

from prospector import spec

# the logit a masked action gets (the engine's mask, the forbidden actions, these sets): its
# probability is exactly 0 in float32 and the entropy stays finite; -1e9 is exact in float32
MASKED_LOGIT = -1e9
EMPTY_CARGO = 0.05 / spec.CARGO_MAX   # observation units (cargo / CARGO_MAX)
QUIET = 0.002                         # heat / alert as fractions of their maximum
SELECT_VALID = np.array([spec.ASTEROID_BASE + spec.ASTEROID_STRIDE * a + spec.AST_VALID
                         for a in range(spec.MAX_ASTEROIDS)])
SELECT_SELECTED = SELECT_VALID - spec.AST_VALID + spec.AST_SELECTED
FULL = 0.999                          # fuel / hull / tool / items as fractions of their maximum
COLUMN_OF_SELL = np.repeat(np.arange(spec.N_COMMODITIES), 3)  # SELL0 + 3c + bucket -> commodity c


def noop_actions(observations: np.ndarray) -> np.ndarray:
    """bool [n, 69]: the no-op actions of engine observations [n, >=260] (a policy's input
    with the mask flags appended is fine: only the first 260 floats are read)."""
    obs = np.asarray(observations)
    if obs.ndim == 1:
        obs = obs[None, :]
    out = np.zeros((obs.shape[0], spec.N_ACTIONS), dtype=bool)
    out[:, spec.A_SELECT0:spec.A_SELECT0 + spec.MAX_ASTEROIDS] = (
        (obs[:, SELECT_VALID] < 0.5) | (obs[:, SELECT_SELECTED] > 0.5))
    empty = obs[:, spec.OBS_CARGO] < EMPTY_CARGO
    out[:, spec.A_SELL0:spec.A_SELL0 + len(COLUMN_OF_SELL)] = empty[:, COLUMN_OF_SELL]
    calm = (obs[:, spec.OBS_HEAT] < QUIET) & (obs[:, spec.OBS_ALERT] < QUIET)
    out[:, spec.A_HOLD] = calm
    out[:, spec.A_DOCK] = calm
    return out


def idle_actions(observations: np.ndarray) -> np.ndarray:
    """bool [n, 69]: the idle actions (see above) of engine observations [n, >=260]."""
    obs = np.asarray(observations)
    if obs.ndim == 1:
        obs = obs[None, :]
    out = np.zeros((obs.shape[0], spec.N_ACTIONS), dtype=bool)
    full_hull, full_tool = obs[:, spec.OBS_HULL] >= FULL, obs[:, spec.OBS_TOOL] >= FULL
    out[:, spec.A_LISTEN] = obs[:, spec.OBS_AT_STATION] > 0.5
    out[:, spec.A_BUY_FUEL0:spec.A_BUY_FUEL0 + 3] = (obs[:, spec.OBS_FUEL] >= FULL)[:, None]
    out[:, spec.A_COOLDOWN] = obs[:, spec.OBS_HEAT] < QUIET
    out[:, spec.A_TOOL_MAINT] = full_tool
    out[:, spec.A_HULL_PATCH] = full_hull
    out[:, spec.A_OVERHAUL] = full_hull & full_tool
    out[:, spec.A_BUY_KIT] = obs[:, spec.OBS_REPAIR_KITS] >= FULL
    out[:, spec.A_BUY_STABILIZER] = obs[:, spec.OBS_STABILIZERS] >= FULL
    out[:, spec.A_BUY_DECOY] = obs[:, spec.OBS_DECOYS] >= FULL
    return out
