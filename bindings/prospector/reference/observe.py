"""The 260 floats (SPEC section 2) and the action mask (SPEC section 3),
mirrored from core_c/src/observe.c.

`observe` returns the 260 values as Python floats holding exactly the
doubles C converts with its (float) cast; `observation_bytes` packs them as
little-endian float32, which rounds the same way (to nearest even). C's
`U8_UNIT[q]` table is `(float)((double)q * INV_255)`, i.e. the packed value
of `q * INV_255`.
"""

from __future__ import annotations

import math
import struct

from prospector.spec import (A_BUY_DECOY, A_BUY_FUEL0, A_BUY_KIT, A_BUY_STABILIZER, A_CASH_OUT, A_COOLDOWN,
                             A_DEEP_SCAN, A_DOCK, A_EMERGENCY_BURN, A_FOCUSED_SCAN, A_HOLD, A_HULL_PATCH,
                             A_JETTISON0, A_LISTEN, A_MINE0, A_OVERHAUL, A_REFINE, A_SELECT0, A_SELL0,
                             A_STABILIZE, A_TOOL_MAINT, A_TRAVEL0, A_WIDE_SCAN)

from .engine import (INV_255, INV_65535, cargo_total, clamp01, clampd, f32, maxd, mind, overhaul_cost,
                     travel_fuel_cost)
from .state import (ALERT_MAX, CARGO_MAX, DEPLETION_SPENT, FUEL_MAX, HEAT_MAX, HULL_MAX, MAX_NODES,
                    N_ACTIONS, N_COMMODITIES, OBS_DIM, TOOL_MAX)
from .tuning import (T_DECOY_COST, T_FUEL_COST, T_FUEL_COST_MAX, T_INVENTORY_OBS_MAX, T_KIT_COST,
                     T_PRICE_DELTA_SCALE, T_PRICE_NOMINAL, T_PRICE_OBS_SCALE, T_STABILIZER_COST,
                     T_TRAVEL_MAX)

LOG1P_1E7 = 16.11809565095832
INVENTORY_OBS = (0, 2, 3, 4)  # iron, water_ice, pge, rare_isotopes
_OBS_STRUCT = struct.Struct(f"<{OBS_DIM}f")


def observe(e) -> list[float]:
    s = e.ship
    here = e.nodes[e.current_node]
    cargo = cargo_total(s)
    obs = [0.0] * OBS_DIM

    obs[0] = s.fuel / FUEL_MAX
    obs[1] = s.hull / HULL_MAX
    obs[2] = s.heat / HEAT_MAX
    obs[3] = s.tool / TOOL_MAX
    obs[4] = cargo / CARGO_MAX
    obs[5] = s.alert / ALERT_MAX
    obs[6] = clamp01(float(e.time_remaining) / float(e.config.time_max))
    obs[7] = e.credits_obs
    for c in range(N_COMMODITIES):
        obs[8 + c] = s.cargo[c] / CARGO_MAX
    obs[14] = mind(1.0, float(s.repair_kits) / 10.0)
    obs[15] = mind(1.0, float(s.stabilizers) / 10.0)
    obs[16] = mind(1.0, float(s.decoys) / 10.0)
    obs[17] = 1.0 if e.current_node == 0 else 0.0
    obs[18] = 1.0 if e.selected >= 0 else 0.0
    obs[19 + here.type] = 1.0
    obs[22] = float(e.current_node) / float(MAX_NODES - 1)
    obs[23] = float(here.hops) / float(MAX_NODES - 1)

    # neighbor slots beyond the degree stay 0
    for k in range(here.degree):
        o = 24 + 7 * k
        n = e.nodes[here.neighbor[k]]
        obs[o] = 1.0
        obs[o + 1 + n.type] = 1.0
        obs[o + 4] = float(here.travel_time[k]) / float(T_TRAVEL_MAX)
        obs[o + 5] = travel_fuel_cost(here.travel_time[k], cargo) / T_FUEL_COST_MAX
        obs[o + 6] = float(n.threat_est) * INV_255

    # asteroid slots beyond the node's count stay 0
    field = e.asteroids[e.current_node]
    for a in range(here.n_asteroids):
        o = 68 + 11 * a
        ast = field[a]
        obs[o] = 1.0
        for c in range(N_COMMODITIES):
            obs[o + 1 + c] = float(ast.est_comp[c]) * INV_255
        obs[o + 7] = float(ast.stab_est) * INV_255
        obs[o + 8] = float(ast.depletion) * INV_65535
        obs[o + 9] = float(ast.conf) * INV_255
        obs[o + 10] = 1.0 if a == e.selected else 0.0

    m = e.market
    for c in range(N_COMMODITIES):
        nominal = T_PRICE_NOMINAL[c]
        obs[244 + c] = clamp01(m.price[c] / (T_PRICE_OBS_SCALE * nominal))
        obs[250 + c] = clampd((m.price[c] - m.prev_price[c]) / (T_PRICE_DELTA_SCALE * nominal), -1.0, 1.0)
    for i in range(4):
        obs[256 + i] = clamp01(m.inventory[INVENTORY_OBS[i]] / T_INVENTORY_OBS_MAX)
    return obs


def observation_bytes(e) -> bytes:
    """The observation as C writes it: 260 little-endian float32."""
    return _OBS_STRUCT.pack(*observe(e))


def mask_compute(e) -> list[int]:
    """Validity of all 69 actions at once (SPEC section 3)."""
    s = e.ship
    here = e.nodes[e.current_node]
    field = e.asteroids[e.current_node]
    at_station = e.current_node == 0
    selected = e.selected >= 0
    mask = [0] * N_ACTIONS
    for k in range(here.degree):
        mask[A_TRAVEL0 + k] = 1
    mask[A_HOLD] = 1
    mask[A_EMERGENCY_BURN] = int(s.fuel > 0.0)
    mask[A_WIDE_SCAN] = int(not at_station and here.n_asteroids > 0)
    mask[A_FOCUSED_SCAN] = mask[A_DEEP_SCAN] = int(selected)
    mask[A_LISTEN] = 1
    for a in range(here.n_asteroids):
        mask[A_SELECT0 + a] = int(field[a].depletion < DEPLETION_SPENT)
    mask[A_MINE0] = mask[A_MINE0 + 1] = mask[A_MINE0 + 2] = int(selected)
    mask[A_STABILIZE] = int(selected and s.stabilizers > 0)
    mask[A_COOLDOWN] = 1
    mask[A_TOOL_MAINT] = mask[A_HULL_PATCH] = int(s.repair_kits > 0)
    any_cargo = 0
    for c in range(N_COMMODITIES):
        held = int(s.cargo[c] > 0.0)
        any_cargo |= held
        mask[A_JETTISON0 + c] = held
        if at_station:
            mask[A_SELL0 + 3 * c] = mask[A_SELL0 + 3 * c + 1] = mask[A_SELL0 + 3 * c + 2] = held
    mask[A_REFINE] = any_cargo
    if at_station:
        mask[A_DOCK] = 1
        for k in range(3):
            mask[A_BUY_FUEL0 + k] = int(s.credits >= T_FUEL_COST[k])
        mask[A_BUY_KIT] = int(s.credits >= T_KIT_COST)
        mask[A_BUY_STABILIZER] = int(s.credits >= T_STABILIZER_COST)
        mask[A_BUY_DECOY] = int(s.credits >= T_DECOY_COST)
        mask[A_OVERHAUL] = int(s.credits >= overhaul_cost(s))
    mask[A_CASH_OUT] = 1
    return mask


def credits_observation(credits: float) -> float:
    """Observation 7 as C caches it: already rounded to float32."""
    return f32(mind(1.0, math.log1p(maxd(credits, 0.0)) / LOG1P_1E7))


def refresh_derived(e, credits_changed: bool) -> None:
    """Recompute the cached mask, and observation 7 when the credits changed
    (otherwise the cached value is the one a recomputation would give)."""
    e.mask = mask_compute(e)
    if credits_changed:
        e.credits_obs = credits_observation(e.ship.credits)


def action_valid(e, action: int) -> bool:
    return 0 <= action < N_ACTIONS and e.mask[action] == 1
