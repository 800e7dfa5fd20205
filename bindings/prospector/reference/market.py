"""The station market: demand cycles, inventory, your own sales, shocks
(core_c/src/market.c)."""

from __future__ import annotations

import math

from .engine import clampd
from .state import EV_SHOCK, N_COMMODITIES
from .tuning import (T_IMPACT_INVENTORY, T_IMPACT_SALES, T_INV_RELAX, T_INV_TARGET, T_INV_TARGET_SPREAD,
                     T_PRICE_AMP, T_PRICE_AMP_SPREAD, T_PRICE_FACTOR_MAX, T_PRICE_FACTOR_MIN,
                     T_PRICE_NOMINAL, T_PRICE_PERIOD, T_PRICE_PERIOD_SPREAD, T_PRICE_REGIME, T_SALES_DECAY,
                     T_SHOCK_DECAY, T_SHOCK_RATE, T_SHOCK_SIZE, T_SHOCK_SIZE_SPREAD)


def market_price(e, c: int) -> float:
    m = e.market
    pressure = 0.0
    if e.config.price_impact:
        pressure = m.inv_impact[c] * (m.inventory[c] - m.inv_target[c]) + T_IMPACT_SALES * m.recent_sales[c]
    factor = 1.0 + m.amp[c] * m.cyc_sin[c] + m.shock[c] - pressure
    return m.base[c] * clampd(factor, T_PRICE_FACTOR_MIN, T_PRICE_FACTOR_MAX)


def market_init(e) -> None:
    r = e.rng
    m = e.market
    for c in range(N_COMMODITIES):
        u = r.uniform()
        m.base[c] = T_PRICE_NOMINAL[c] * (1.0 - T_PRICE_REGIME / 2.0 + T_PRICE_REGIME * u)
        u = r.uniform()
        m.amp[c] = T_PRICE_AMP + T_PRICE_AMP_SPREAD * u
        u = r.uniform()
        omega = 6.283185307179586 / (T_PRICE_PERIOD + T_PRICE_PERIOD_SPREAD * u)
        m.rot_sin[c] = math.sin(omega)
        m.rot_cos[c] = math.cos(omega)
        u = r.uniform()
        phase = 6.283185307179586 * u
        m.cyc_sin[c] = math.sin(phase)
        m.cyc_cos[c] = math.cos(phase)
        u = r.uniform()
        m.inv_target[c] = T_INV_TARGET + T_INV_TARGET_SPREAD * u
        m.inv_impact[c] = T_IMPACT_INVENTORY / m.inv_target[c]
        m.inventory[c] = m.inv_target[c]
        m.recent_sales[c] = 0.0
        m.shock[c] = 0.0
        m.price[c] = market_price(e, c)
        m.prev_price[c] = m.price[c]


def market_tick(e, dt: int) -> None:
    m = e.market
    # per-tick decays raised to dt by repeated multiplication, as in C (no pow)
    inv_k = sales_k = shock_k = 1.0
    for _ in range(dt):
        inv_k *= T_INV_RELAX
        sales_k *= T_SALES_DECAY
        shock_k *= T_SHOCK_DECAY
    for c in range(N_COMMODITIES):
        m.prev_price[c] = m.price[c]
        # demand cycle: rotate the unit vector by omega per tick
        s, co = m.cyc_sin[c], m.cyc_cos[c]
        for _ in range(dt):
            s2 = s * m.rot_cos[c] + co * m.rot_sin[c]
            co = co * m.rot_cos[c] - s * m.rot_sin[c]
            s = s2
        m.cyc_sin[c] = s
        m.cyc_cos[c] = co
        m.inventory[c] = m.inv_target[c] + (m.inventory[c] - m.inv_target[c]) * inv_k
        m.recent_sales[c] *= sales_k
        m.shock[c] *= shock_k
    if e.config.shocks:
        u = e.rng.uniform()
        if u < T_SHOCK_RATE * float(dt):
            c = e.rng.below(N_COMMODITIES)
            u2 = e.rng.uniform()
            size = T_SHOCK_SIZE + T_SHOCK_SIZE_SPREAD * u2
            m.shock[c] += -size if u2 < 0.5 else size
            e.events.flags |= EV_SHOCK
    for c in range(N_COMMODITIES):
        m.price[c] = market_price(e, c)
