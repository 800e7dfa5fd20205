"""Reset and the step, in the order of SPEC section 4 (core_c/src/step.c)."""

from __future__ import annotations

import dataclasses

from prospector.spec import (A_BUY_DECOY, A_BUY_FUEL0, A_CASH_OUT, A_COOLDOWN, A_DEEP_SCAN, A_DOCK,
                             A_EMERGENCY_BURN, A_FOCUSED_SCAN, A_HOLD, A_HULL_PATCH, A_JETTISON0, A_LISTEN,
                             A_MINE0, A_OVERHAUL, A_REFINE, A_SELECT0, A_SELL0, A_STABILIZE, A_TOOL_MAINT,
                             A_WIDE_SCAN)

from .engine import add_alert, cargo_total, cargo_value_at, damage_hull, maxd, mind, travel_fuel_cost, use_fuel
from .market import market_init, market_tick
from .mining import mine_tick, refine_onboard
from .observe import action_valid, refresh_derived
from .reward import StepSnapshot, reward_compute
from .rng import mix64
from .scan import scan_focused, scan_listen, scan_wide
from .state import (CARGO_MAX, EV_CASH_OUT, EV_DESTROYED, EV_INVALID, EV_JETTISON, EV_OVERHEAT, EV_REPAIR,
                    EV_SCAN, EV_STRANDED, EV_TIME_UP, EV_TRAVEL, FUEL_MAX, HEAT_MAX, HULL_MAX, MAX_ASTEROIDS,
                    N_COMMODITIES, REWARD_SHAPED, REWARD_SPARSE, TOOL_MAX, Config, Env, Events)
from .station import station_buy, station_dock, station_overhaul, station_sell
from .threats import threats_apply
from .tuning import (T_ALERT_DECAY, T_ALERT_DECAY_STATION, T_BURN_ALERT, T_BURN_FUEL, T_BURN_TICKS,
                     T_COOLDOWN_ALERT, T_COOLDOWN_FUEL, T_COOLDOWN_HEAT, T_DEEP_ALERT, T_DEEP_FUEL,
                     T_DEEP_TICKS, T_DOCK_TICKS, T_FOCUS_ALERT, T_FOCUS_FUEL, T_FOCUS_TICKS, T_HEAT_DISS,
                     T_HEAT_DISS_STATION, T_HOLD_ALERT_DECAY, T_HOLD_COOL, T_HULL_PATCH_GAIN,
                     T_HULL_PATCH_TICKS, T_LISTEN_TICKS, T_OVERHAUL_TICKS, T_OVERHEAT_DAMAGE,
                     T_OVERHEAT_THRESHOLD, T_REFINE_TICKS, T_START_CREDITS, T_START_CREDITS_SPREAD,
                     T_START_DECOYS, T_START_KITS, T_START_STABILIZERS, T_STABILIZE_DURATION,
                     T_STABILIZE_TICKS, T_TOOL_MAINT_GAIN, T_TOOL_MAINT_TICKS, T_TRAVEL_ALERT, T_WIDE_ALERT,
                     T_WIDE_FUEL, T_WIDE_TICKS)
from .world import world_generate

MASK64 = 0xFFFFFFFFFFFFFFFF
SEED_MAX = 2**53 - 1  # PR_SEED_MAX: the seeds the engine draws itself stay exact in JSON (JavaScript)


def next_seed(seed: int) -> int:
    """pr_next_seed: the next seed of an env's seed sequence (auto-reset), 0..SEED_MAX."""
    return mix64((seed ^ 0xD1B54A32D192ED03) & MASK64) & SEED_MAX


def reset(config: Config, seed: int) -> Env:
    """pr_reset: a fresh env (C's memset to zero) for this config and seed."""
    cfg = dataclasses.replace(config)  # config may belong to an env being reset
    if cfg.time_max < 1:
        cfg.time_max = 1
    if cfg.reward_mode != REWARD_SPARSE:
        cfg.reward_mode = REWARD_SHAPED
    e = Env(config=cfg)
    e.seed = seed & MASK64
    e.rng.state = mix64(e.seed)
    world_generate(e)
    market_init(e)

    s = e.ship
    u = e.rng.uniform()
    s.credits = float(int(T_START_CREDITS + T_START_CREDITS_SPREAD * u))
    s.fuel = FUEL_MAX
    s.hull = HULL_MAX
    s.tool = TOOL_MAX
    s.repair_kits = T_START_KITS
    s.stabilizers = T_START_STABILIZERS
    s.decoys = T_START_DECOYS
    e.time_remaining = cfg.time_max
    e.selected = -1
    e.stab_node = -1
    e.stab_ast = -1
    e.counters.start_credits = s.credits
    e.events.action = -1
    e.events.applied_action = -1
    refresh_derived(e, True)
    return e


def apply_action(e: Env, a: int) -> int:
    """Primary effect of a valid action; returns dt (ticks consumed)."""
    s = e.ship
    if a < A_HOLD:  # TRAVEL to neighbor slot a
        here = e.nodes[e.current_node]
        dest, tt = here.neighbor[a], here.travel_time[a]
        cost = travel_fuel_cost(tt, cargo_total(s))
        use_fuel(s, cost)
        add_alert(s, T_TRAVEL_ALERT)
        e.events.flags |= EV_TRAVEL
        e.events.travel_from = e.current_node
        e.events.travel_to = dest
        e.current_node = dest
        e.selected = -1
        e.nodes[dest].visited = 1
        if dest == 0:
            e.counters.cargo_util_sum += cargo_total(s) / CARGO_MAX
            e.counters.cargo_util_count += 1.0
        return tt
    if A_SELECT0 <= a < A_SELECT0 + MAX_ASTEROIDS:
        e.selected = a - A_SELECT0
        return 1
    if A_MINE0 <= a < A_MINE0 + 3:
        mine_tick(e, a - A_MINE0)
        return 1
    if A_JETTISON0 <= a < A_JETTISON0 + N_COMMODITIES:
        s.cargo[a - A_JETTISON0] = 0.0
        s.refined[a - A_JETTISON0] = 0.0
        e.events.flags |= EV_JETTISON
        return 1
    if A_SELL0 <= a < A_SELL0 + 18:
        station_sell(e, (a - A_SELL0) // 3, (a - A_SELL0) % 3)
        return 1
    if A_BUY_FUEL0 <= a <= A_BUY_DECOY:
        station_buy(e, a)
        return 1
    if a == A_EMERGENCY_BURN:
        use_fuel(s, T_BURN_FUEL)
        s.escape_ticks = T_BURN_TICKS
        add_alert(s, T_BURN_ALERT)
        return 1
    if a == A_WIDE_SCAN:
        scan_wide(e)
        use_fuel(s, T_WIDE_FUEL)
        add_alert(s, T_WIDE_ALERT)
        e.counters.scan_count += 1.0
        e.events.flags |= EV_SCAN
        return T_WIDE_TICKS
    if a == A_FOCUSED_SCAN or a == A_DEEP_SCAN:
        deep = a == A_DEEP_SCAN
        scan_focused(e, deep)
        use_fuel(s, T_DEEP_FUEL if deep else T_FOCUS_FUEL)
        add_alert(s, T_DEEP_ALERT if deep else T_FOCUS_ALERT)
        e.counters.scan_count += 1.0
        e.events.flags |= EV_SCAN
        return T_DEEP_TICKS if deep else T_FOCUS_TICKS
    if a == A_LISTEN:
        scan_listen(e)
        return T_LISTEN_TICKS
    if a == A_STABILIZE:
        s.stabilizers -= 1
        e.stab_node = e.current_node
        e.stab_ast = e.selected
        e.stab_until = e.t + T_STABILIZE_DURATION
        return T_STABILIZE_TICKS
    if a == A_REFINE:
        refine_onboard(e)
        return T_REFINE_TICKS
    if a == A_COOLDOWN:
        s.heat = maxd(0.0, s.heat - T_COOLDOWN_HEAT)
        use_fuel(s, T_COOLDOWN_FUEL)
        add_alert(s, T_COOLDOWN_ALERT)
        return 1
    if a == A_TOOL_MAINT:
        s.repair_kits -= 1
        s.tool = mind(TOOL_MAX, s.tool + T_TOOL_MAINT_GAIN)
        e.events.flags |= EV_REPAIR
        return T_TOOL_MAINT_TICKS
    if a == A_HULL_PATCH:
        s.repair_kits -= 1
        s.hull = mind(HULL_MAX, s.hull + T_HULL_PATCH_GAIN)
        e.events.flags |= EV_REPAIR
        return T_HULL_PATCH_TICKS
    if a == A_DOCK:
        station_dock(e)
        return T_DOCK_TICKS
    if a == A_OVERHAUL:
        station_overhaul(e)
        return T_OVERHAUL_TICKS
    if a == A_CASH_OUT:
        e.events.flags |= EV_CASH_OUT
        return 1
    # HOLD_DRIFT: quiet, lets the ship cool
    s.heat = maxd(0.0, s.heat - T_HOLD_COOL)
    s.alert = maxd(0.0, s.alert - T_HOLD_ALERT_DECAY)
    return 1


def passive_dynamics(e: Env, dt: int) -> None:
    s = e.ship
    at_station = e.current_node == 0
    e.time_remaining -= dt
    e.t += dt
    s.heat = maxd(0.0, s.heat - (T_HEAT_DISS_STATION if at_station else T_HEAT_DISS) * float(dt))
    s.alert = maxd(0.0, s.alert - (T_ALERT_DECAY_STATION if at_station else T_ALERT_DECAY) * float(dt))
    s.escape_ticks = s.escape_ticks - dt if s.escape_ticks > dt else 0


def thresholds(e: Env, dt: int) -> None:
    s = e.ship
    if s.heat > HEAT_MAX:
        damage = (s.heat - HEAT_MAX) * T_OVERHEAT_DAMAGE
        s.heat = HEAT_MAX
        damage_hull(s, damage)
        e.events.flags |= EV_OVERHEAT
        e.events.overheat_damage = damage
    if s.heat > T_OVERHEAT_THRESHOLD:
        e.counters.overheat_ticks += float(dt)


def termination(e: Env, applied: int) -> None:
    s = e.ship
    if s.hull <= 0.0:
        e.done = 1
        e.counters.destroyed = 1
        e.events.flags |= EV_DESTROYED
    elif s.fuel <= 0.0 and e.current_node != 0:
        e.done = 1
        e.counters.stranded = 1
        e.events.flags |= EV_STRANDED
    elif applied == A_CASH_OUT:
        e.done = 1
    elif e.time_remaining <= 0:
        e.done = 2
        e.events.flags |= EV_TIME_UP


def count_step(e: Env, snap: StepSnapshot, invalid: bool, reward: float) -> None:
    k = e.counters
    s = e.ship
    k.fuel_used += maxd(0.0, snap.fuel - s.fuel)
    k.hull_damage += maxd(0.0, snap.hull - s.hull)
    k.tool_wear += maxd(0.0, snap.tool - s.tool)
    k.invalid_actions += float(invalid)
    k.steps += 1
    k.episode_return += reward


def step(e: Env, action: int) -> tuple[float, bool, bool]:
    """pr_step: one decision; any int is accepted (out of range = invalid).
    Returns (reward, terminated, truncated)."""
    if e.done:  # a finished episode stays finished until reset
        return 0.0, e.done == 1, e.done == 2
    s = e.ship
    price = list(e.market.price)
    snap = StepSnapshot(credits=s.credits, fuel=s.fuel, hull=s.hull, heat=s.heat, tool=s.tool,
                        cargo_value=cargo_value_at(s, price), price=price)
    e.events = Events(action=action)

    invalid = not action_valid(e, action)                    # 1. decode
    applied = A_HOLD if invalid else action
    if invalid:
        e.events.flags |= EV_INVALID
    e.events.applied_action = applied
    dt = apply_action(e, applied)                            # 2. primary effect
    e.events.dt = dt
    passive_dynamics(e, dt)                                  # 3.
    thresholds(e, dt)                                        # 4.
    threats_apply(e, dt)                                     # 5.
    market_tick(e, dt)                                       # 6.
    termination(e, applied)                                  # 7.
    reward = reward_compute(e, snap, dt, applied, invalid)   # 8.
    count_step(e, snap, invalid, reward)
    e.events.reward = reward
    refresh_derived(e, s.credits != snap.credits)
    return reward, e.done == 1, e.done == 2


def episode_metrics(e: Env) -> list[float]:
    """pr_episode_metrics, in PR_M_* order (prospector.spec.METRIC_NAMES)."""
    k = e.counters
    net = e.ship.credits - k.start_credits
    return [
        k.episode_return,                                        # RETURN
        e.ship.credits,                                          # CREDITS
        net,                                                     # NET_PROFIT
        net / float(e.t if e.t > 0 else 1),                      # PROFIT_PER_TICK
        0.0 if (k.destroyed or k.stranded) else 1.0,             # SURVIVAL
        float(k.destroyed),                                      # DESTROYED
        float(k.stranded),                                       # STRANDED
        k.overheat_ticks,
        k.pirate_encounters,
        k.value_lost_to_pirates,
        k.fuel_used,
        k.hull_damage,
        k.tool_wear,
        k.scan_count,
        k.mining_ticks,
        k.cargo_util_sum / k.cargo_util_count if k.cargo_util_count > 0.0 else 0.0,
        k.invalid_actions,
        float(e.t),                                              # EPISODE_LENGTH
        float(k.steps),                                          # EPISODE_STEPS
    ]
