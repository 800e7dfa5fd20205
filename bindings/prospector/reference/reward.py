"""SPEC section 6, nothing else (core_c/src/reward.c)."""

from __future__ import annotations

from dataclasses import dataclass

from prospector.spec import A_DEEP_SCAN, A_FOCUSED_SCAN, A_WIDE_SCAN

from .engine import cargo_value_at, maxd
from .state import CREDIT_SCALE, EV_DESTROYED, EV_STRANDED, REWARD_SPARSE
from .tuning import T_OVERHEAT_THRESHOLD


@dataclass(slots=True)
class StepSnapshot:
    """pr_step_snapshot: the ship before the step, for the reward."""

    credits: float
    fuel: float
    hull: float
    heat: float
    tool: float
    cargo_value: float
    price: list


def reward_compute(e, snap: StepSnapshot, dt: int, applied: int, invalid: bool) -> float:
    s = e.ship
    destroyed = (e.events.flags & EV_DESTROYED) != 0
    stranded = (e.events.flags & EV_STRANDED) != 0
    if e.config.reward_mode == REWARD_SPARSE:
        r = e.events.sale_revenue / CREDIT_SCALE
    else:
        dcredits = s.credits - snap.credits
        dvalue = cargo_value_at(s, snap.price) - snap.cargo_value
        fuel_used = maxd(0.0, snap.fuel - s.fuel)
        tool_wear = maxd(0.0, snap.tool - s.tool)
        hull_damage = maxd(0.0, snap.hull - s.hull)
        heat_excess = maxd(0.0, s.heat - T_OVERHEAT_THRESHOLD) / 100.0
        r = dcredits / CREDIT_SCALE
        r += 0.02 * maxd(0.0, dvalue) / CREDIT_SCALE
        r -= 0.10 * fuel_used / 100.0
        r -= 0.001 * float(dt)
        r -= 0.05 * tool_wear / 10.0
        r -= 0.20 * (heat_excess * heat_excess)
        r -= 1.00 * hull_damage / 10.0
        if applied in (A_WIDE_SCAN, A_FOCUSED_SCAN, A_DEEP_SCAN):
            r -= 0.005
        if invalid:
            r -= 0.01
    if stranded:
        r -= 50.0
    if destroyed:
        r -= 100.0
    if e.config.reward_mode != REWARD_SPARSE and e.done and not stranded and not destroyed:
        r += 0.002 * s.credits / CREDIT_SCALE
    return r
