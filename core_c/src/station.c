/* Station services: sell, buy, repair, dock. Validity is checked in
 * observe.c (the action mask); these only apply effects. */
#include "engine.h"

void station_sell(pr_env *e, int c, int bucket) {
    pr_ship *s = &e->ship;
    pr_market *m = &e->market;
    double f = T_SELL_FRACTION[bucket];
    double units = s->cargo[c] * f;
    double refined = s->refined[c] * f;
    double slip = e->config.price_impact ? units / (units + T_SLIPPAGE_HALF) : 0.0;
    double revenue = m->price[c] * (units + T_REFINED_BONUS * refined) * (1.0 - slip);
    s->credits += revenue;
    if (bucket == 2) {
        s->cargo[c] = 0.0;
        s->refined[c] = 0.0;
    } else {
        s->cargo[c] -= units;
        s->refined[c] -= refined;
    }
    m->inventory[c] += units;
    m->recent_sales[c] += units;
    e->events.flags |= PR_EV_SALE;
    e->events.sale_commodity = c;
    e->events.sale_units = units;
    e->events.sale_revenue = revenue;
}

static void pay(pr_env *e, double cost) {
    e->ship.credits -= cost;
    e->events.flags |= PR_EV_PURCHASE;
    e->events.purchase_cost = cost;
}

void station_buy(pr_env *e, int action) {
    pr_ship *s = &e->ship;
    if (action >= PR_A_BUY_FUEL0 && action < PR_A_BUY_FUEL0 + 3) {
        int k = action - PR_A_BUY_FUEL0;
        pay(e, T_FUEL_COST[k]);
        s->fuel = mind(PR_FUEL_MAX, s->fuel + T_FUEL_AMOUNT[k]);
    } else if (action == PR_A_BUY_KIT) {
        pay(e, T_KIT_COST);
        if (s->repair_kits < T_ITEM_CAP) s->repair_kits += 1;
    } else if (action == PR_A_BUY_STABILIZER) {
        pay(e, T_STABILIZER_COST);
        if (s->stabilizers < T_ITEM_CAP) s->stabilizers += 1;
    } else if (action == PR_A_BUY_DECOY) {
        pay(e, T_DECOY_COST);
        if (s->decoys < T_ITEM_CAP) s->decoys += 1;
    }
}

void station_overhaul(pr_env *e) {
    pay(e, overhaul_cost(&e->ship));
    e->ship.hull = PR_HULL_MAX;
    e->ship.tool = PR_TOOL_MAX;
    e->events.flags |= PR_EV_REPAIR;
}

void station_dock(pr_env *e) {
    pr_ship *s = &e->ship;
    s->alert *= T_DOCK_ALERT_KEEP;
    s->heat = maxd(0.0, s->heat - T_DOCK_COOL);
    e->events.flags |= PR_EV_DOCK;
}
