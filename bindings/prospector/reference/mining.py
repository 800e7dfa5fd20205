"""Mining: stochastic yield from hidden richness and composition, heat, tool
wear, depletion and fractures. Refining: less volume, more value
(core_c/src/mining.c)."""

from __future__ import annotations

import math

from .engine import (INV_255, INV_65535, add_alert, asteroid_stabilized, c_exp, cargo_total, damage_hull,
                     maxd, mind, q65535, use_fuel)
from .state import CARGO_MAX, DEPLETION_SPENT, EV_FRACTURE, EV_MINE, EV_REFINE, N_COMMODITIES, TOOL_MAX
from .tuning import (T_DEPLETION_CAPACITY, T_DEPLETION_FLOOR, T_FRACTURE_BASE, T_FRACTURE_DAMAGE,
                     T_FRACTURE_DAMAGE_SPREAD, T_FRACTURE_HEAT, T_FRACTURE_INSTABILITY, T_FRACTURE_MODE,
                     T_FRACTURE_STABILIZED, T_FRACTURE_WEAR, T_HEAT_EFF_DROP, T_HEAT_EFF_SPAN, T_MINE_ALERT,
                     T_MINE_HEAT, T_MINE_MULT, T_MINE_RATE, T_MINE_SIGMA, T_MINE_WEAR, T_OVERHEAT_THRESHOLD,
                     T_REFINE_ALERT, T_REFINE_BATCH, T_REFINE_FUEL, T_REFINE_HEAT, T_REFINE_KEEP)
from .world import asteroid_ensure_truth


def heat_efficiency(heat: float) -> float:
    if heat <= T_OVERHEAT_THRESHOLD:
        return 1.0
    x = (heat - T_OVERHEAT_THRESHOLD) / T_HEAT_EFF_SPAN
    return maxd(0.1, 1.0 - T_HEAT_EFF_DROP * x * x)


def mine_tick(e, mode: int) -> None:
    node, slot = e.current_node, e.selected
    asteroid_ensure_truth(e, node, slot)
    a = e.asteroids[node][slot]
    s = e.ship

    depletion = float(a.depletion) * INV_65535
    richness = float(a.richness) / 1000.0
    base = richness * (1.0 - depletion)
    tool_eff = 0.4 + 0.6 * (s.tool / TOOL_MAX)
    noise = math.exp(T_MINE_SIGMA[mode] * e.rng.normal())
    total = T_MINE_RATE * T_MINE_MULT[mode] * base * tool_eff * heat_efficiency(s.heat) * noise
    space = CARGO_MAX - cargo_total(s)
    if total > space:
        total = maxd(0.0, space)
    if total > 0.0:
        qsum = 0
        for c in range(N_COMMODITIES):
            qsum += a.true_comp[c]
        for c in range(N_COMMODITIES):
            s.cargo[c] += total * float(a.true_comp[c]) / float(qsum)
        a.depletion = q65535(depletion + total / (T_DEPLETION_CAPACITY * richness + T_DEPLETION_FLOOR))
    s.heat += T_MINE_HEAT[mode]
    s.tool = maxd(0.0, s.tool - T_MINE_WEAR[mode])
    add_alert(s, T_MINE_ALERT[mode])
    e.counters.mining_ticks += 1.0
    e.events.flags |= EV_MINE
    e.events.mined_units = total

    if e.config.fractures:  # the fracture roll draws only with fractures on
        instability = 1.0 - float(a.stability) * INV_255
        heat_excess = maxd(0.0, s.heat - T_OVERHEAT_THRESHOLD) / T_HEAT_EFF_SPAN
        logit = (T_FRACTURE_BASE + T_FRACTURE_MODE[mode] + T_FRACTURE_INSTABILITY * instability
                 + T_FRACTURE_HEAT * heat_excess + T_FRACTURE_WEAR * (1.0 - s.tool / TOOL_MAX))
        if asteroid_stabilized(e, node, slot):
            logit -= T_FRACTURE_STABILIZED
        p = 1.0 / (1.0 + c_exp(-logit))
        u = e.rng.uniform()
        if u < p:
            u2 = e.rng.uniform()
            damage = T_FRACTURE_DAMAGE + T_FRACTURE_DAMAGE_SPREAD * u2 * float(mode + 1) / 2.0
            a.depletion = DEPLETION_SPENT
            damage_hull(s, damage)
            e.events.flags |= EV_FRACTURE
            e.events.fracture_damage = damage
    if a.depletion == DEPLETION_SPENT:
        e.selected = -1


def refine_onboard(e) -> None:
    s = e.ship
    raw_total = 0.0
    for c in range(N_COMMODITIES):
        raw_total += s.cargo[c] - s.refined[c]
    if raw_total > 0.0:
        batch = mind(T_REFINE_BATCH, raw_total)
        for c in range(N_COMMODITIES):
            take = (s.cargo[c] - s.refined[c]) * batch / raw_total
            s.cargo[c] -= take * (1.0 - T_REFINE_KEEP)
            s.refined[c] += take * T_REFINE_KEEP
    s.heat += T_REFINE_HEAT
    use_fuel(s, T_REFINE_FUEL)
    add_alert(s, T_REFINE_ALERT)
    e.events.flags |= EV_REFINE
