"""Station services: sell, buy, repair, dock (core_c/src/station.c).
Validity is checked by the action mask (observe.py); these only apply effects."""

from __future__ import annotations

from prospector.spec import A_BUY_DECOY, A_BUY_FUEL0, A_BUY_KIT, A_BUY_STABILIZER

from .engine import maxd, mind, overhaul_cost
from .state import EV_DOCK, EV_PURCHASE, EV_REPAIR, EV_SALE, FUEL_MAX, HULL_MAX, TOOL_MAX
from .tuning import (T_DECOY_COST, T_DOCK_ALERT_KEEP, T_DOCK_COOL, T_FUEL_AMOUNT, T_FUEL_COST, T_ITEM_CAP,
                     T_KIT_COST, T_REFINED_BONUS, T_SELL_FRACTION, T_SLIPPAGE_HALF, T_STABILIZER_COST)


def station_sell(e, c: int, bucket: int) -> None:
    s = e.ship
    m = e.market
    f = T_SELL_FRACTION[bucket]
    units = s.cargo[c] * f
    refined = s.refined[c] * f
    slip = units / (units + T_SLIPPAGE_HALF) if e.config.price_impact else 0.0
    revenue = m.price[c] * (units + T_REFINED_BONUS * refined) * (1.0 - slip)
    s.credits += revenue
    if bucket == 2:
        s.cargo[c] = 0.0
        s.refined[c] = 0.0
    else:
        s.cargo[c] -= units
        s.refined[c] -= refined
    m.inventory[c] += units
    m.recent_sales[c] += units
    e.events.flags |= EV_SALE
    e.events.sale_commodity = c
    e.events.sale_units = units
    e.events.sale_revenue = revenue


def pay(e, cost: float) -> None:
    e.ship.credits -= cost
    e.events.flags |= EV_PURCHASE
    e.events.purchase_cost = cost


def station_buy(e, action: int) -> None:
    s = e.ship
    if A_BUY_FUEL0 <= action < A_BUY_FUEL0 + 3:
        k = action - A_BUY_FUEL0
        pay(e, T_FUEL_COST[k])
        s.fuel = mind(FUEL_MAX, s.fuel + T_FUEL_AMOUNT[k])
    elif action == A_BUY_KIT:
        pay(e, T_KIT_COST)
        if s.repair_kits < T_ITEM_CAP:
            s.repair_kits += 1
    elif action == A_BUY_STABILIZER:
        pay(e, T_STABILIZER_COST)
        if s.stabilizers < T_ITEM_CAP:
            s.stabilizers += 1
    elif action == A_BUY_DECOY:
        pay(e, T_DECOY_COST)
        if s.decoys < T_ITEM_CAP:
            s.decoys += 1


def station_overhaul(e) -> None:
    pay(e, overhaul_cost(e.ship))
    e.ship.hull = HULL_MAX
    e.ship.tool = TOOL_MAX
    e.events.flags |= EV_REPAIR


def station_dock(e) -> None:
    s = e.ship
    s.alert *= T_DOCK_ALERT_KEEP
    s.heat = maxd(0.0, s.heat - T_DOCK_COOL)
    e.events.flags |= EV_DOCK
