"""Shared helpers of the systems, mirrored from core_c/src/engine.h.

Every helper keeps C's exact comparison and operation order: `maxd(0.0, x)`
returns x when x == 0.0 (so a -0.0 stays -0.0, as in C), which Python's
max() would not. Never use sum() on floats here: Python 3.12's sum() is
compensated and would not round like C's running total.
"""

from __future__ import annotations

import math
import struct

from .state import CARGO_MAX, HULL_MAX, N_COMMODITIES, TOOL_MAX, ALERT_MAX
from .tuning import (T_FUEL_PER_TICK, T_OVERHAUL_BASE, T_OVERHAUL_HULL, T_OVERHAUL_TOOL,
                     T_REFINED_BONUS)

# Quantized state back to [0, 1]: multiply by the reciprocal, as C does.
INV_255 = 1.0 / 255.0
INV_65535 = 1.0 / 65535.0

_F32 = struct.Struct("<f")


def f32(x: float) -> float:
    """C's (float) cast (round to nearest even), as a Python float."""
    return _F32.unpack(_F32.pack(x))[0]


def clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)


def clampd(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else (hi if x > hi else x)


def maxd(a: float, b: float) -> float:
    return a if a > b else b


def mind(a: float, b: float) -> float:
    return a if a < b else b


def q255(x: float) -> int:
    """(uint8_t)(clamp01(x) * 255.0 + 0.5): truncation of a value in [0.5, 255.5]."""
    return int(clamp01(x) * 255.0 + 0.5)


def q65535(x: float) -> int:
    return int(clamp01(x) * 65535.0 + 0.5)


# libm calls with C's behaviour at the edges (math raises where C returns inf/nan).
def c_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def c_sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else math.nan


def cargo_total(s) -> float:
    t = 0.0
    for c in range(N_COMMODITIES):
        t += s.cargo[c]
    return t


def cargo_value_at(s, price) -> float:
    """Value of the hold at the given prices: refined units are worth more."""
    v = 0.0
    for c in range(N_COMMODITIES):
        v += price[c] * (s.cargo[c] + T_REFINED_BONUS * s.refined[c])
    return v


def add_alert(s, x: float) -> None:
    s.alert = mind(ALERT_MAX, s.alert + x)


def use_fuel(s, x: float) -> None:
    s.fuel = maxd(0.0, s.fuel - x)


def damage_hull(s, x: float) -> None:
    s.hull = maxd(0.0, s.hull - x)


def travel_fuel_cost(travel_time: int, cargo: float) -> float:
    return T_FUEL_PER_TICK * float(travel_time) * (1.0 + cargo / CARGO_MAX)


def overhaul_cost(s) -> float:
    return T_OVERHAUL_BASE + T_OVERHAUL_HULL * (HULL_MAX - s.hull) + T_OVERHAUL_TOOL * (TOOL_MAX - s.tool)


def asteroid_stabilized(e, node: int, slot: int) -> bool:
    return e.stab_node == node and e.stab_ast == slot and e.t < e.stab_until
