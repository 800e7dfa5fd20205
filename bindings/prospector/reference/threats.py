"""Threats away from the station: hazards, then pirates (core_c/src/threats.c)."""

from __future__ import annotations

from .engine import INV_255, add_alert, c_sqrt, cargo_value_at, damage_hull
from .state import ALERT_MAX, EV_DECOY_USED, EV_HAZARD, EV_PIRATE, N_COMMODITIES
from .tuning import (T_DECOY_DAMAGE, T_DECOY_LOSS, T_HAZARD_DAMAGE, T_HAZARD_DAMAGE_SPREAD, T_HAZARD_RATE,
                     T_PIRATE_ALERT, T_PIRATE_ALERT_FACTOR, T_PIRATE_CARGO_FACTOR, T_PIRATE_DAMAGE,
                     T_PIRATE_DAMAGE_SPREAD, T_PIRATE_ESCAPE_FACTOR, T_PIRATE_FLOOR, T_PIRATE_LOSS,
                     T_PIRATE_LOSS_SPREAD, T_PIRATE_RATE)


def hazards_tick(e, n, dt: int) -> None:
    """One roll per step (drawn even when the node's intensity is 0)."""
    intensity = float(n.hazard) * INV_255
    p = T_HAZARD_RATE * intensity * float(dt)
    u = e.rng.uniform()
    if u < p:
        u2 = e.rng.uniform()
        damage = T_HAZARD_DAMAGE + T_HAZARD_DAMAGE_SPREAD * u2 * intensity
        damage_hull(e.ship, damage)
        e.events.flags |= EV_HAZARD
        e.events.hazard_damage = damage


def pirates_tick(e, n, dt: int) -> None:
    s = e.ship
    value = cargo_value_at(s, e.market.price)
    p = T_PIRATE_RATE * (T_PIRATE_FLOOR + float(n.pirate) * INV_255)
    p *= 1.0 + T_PIRATE_ALERT_FACTOR * (s.alert / ALERT_MAX)
    p *= 1.0 + T_PIRATE_CARGO_FACTOR * c_sqrt(value / 1000.0)
    if s.escape_ticks > 0:
        p *= T_PIRATE_ESCAPE_FACTOR
    p *= float(dt)
    u = e.rng.uniform()
    if u >= p:
        return

    u2 = e.rng.uniform()  # drawn even when a decoy takes the hit
    if s.decoys > 0:
        s.decoys -= 1
        loss = T_DECOY_LOSS
        damage = T_DECOY_DAMAGE
        e.events.flags |= EV_DECOY_USED
    else:
        loss = T_PIRATE_LOSS + T_PIRATE_LOSS_SPREAD * u2
        damage = T_PIRATE_DAMAGE + T_PIRATE_DAMAGE_SPREAD * u2
    for c in range(N_COMMODITIES):
        s.cargo[c] -= s.cargo[c] * loss
        s.refined[c] -= s.refined[c] * loss
    damage_hull(s, damage)
    add_alert(s, T_PIRATE_ALERT)
    e.counters.pirate_encounters += 1.0
    e.counters.value_lost_to_pirates += value * loss
    e.events.flags |= EV_PIRATE
    e.events.pirate_loss = value * loss
    e.events.pirate_damage = damage


def threats_apply(e, dt: int) -> None:
    if e.current_node == 0:
        return
    n = e.nodes[e.current_node]
    if e.config.hazards:
        hazards_tick(e, n, dt)
    if e.config.pirates:
        pirates_tick(e, n, dt)
