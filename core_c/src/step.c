/* Reset and the step, in the order of SPEC section 4. */
#include <string.h>
#include "engine.h"

pr_config pr_default_config(void) {
    pr_config c;
    memset(&c, 0, sizeof c);
    c.time_max = PR_TIME_MAX_DEFAULT;
    c.reward_mode = PR_REWARD_SHAPED;
    c.pirates = c.hazards = c.scan_noise = c.fractures = c.price_impact = c.shocks = 1;
    return c;
}

uint64_t pr_next_seed(uint64_t seed) { return pr_mix64(seed ^ 0xD1B54A32D192ED03ULL) & PR_SEED_MAX; }

void pr_reset(pr_env *e, const pr_config *config, uint64_t seed) {
    pr_config cfg = *config; /* config may live inside *e */
    memset(e, 0, sizeof *e);
    if (cfg.time_max < 1) cfg.time_max = 1;
    if (cfg.reward_mode != PR_REWARD_SPARSE) cfg.reward_mode = PR_REWARD_SHAPED;
    e->config = cfg;
    e->seed = seed;
    e->rng = pr_mix64(seed);
    world_generate(e);
    market_init(e);

    pr_ship *s = &e->ship;
    double u = rng_uniform(&e->rng);
    s->credits = (double)(int)(T_START_CREDITS + T_START_CREDITS_SPREAD * u);
    s->fuel = PR_FUEL_MAX;
    s->hull = PR_HULL_MAX;
    s->tool = PR_TOOL_MAX;
    s->repair_kits = T_START_KITS;
    s->stabilizers = T_START_STABILIZERS;
    s->decoys = T_START_DECOYS;
    e->time_remaining = cfg.time_max;
    e->selected = -1;
    e->stab_node = -1;
    e->stab_ast = -1;
    e->counters.start_credits = s->credits;
    e->events.action = -1;
    e->events.applied_action = -1;
    refresh_derived(e, 1, FIELD_ALL);
}

/* Primary effect of a valid action; returns dt (ticks consumed). */
static int apply_action(pr_env *e, int a) {
    pr_ship *s = &e->ship;
    if (a < PR_A_HOLD) {
        pr_node *here = &e->nodes[e->current_node];
        int dest = here->neighbor[a], tt = here->travel_time[a];
        double cost = travel_fuel_cost(tt, cargo_total(s));
        use_fuel(s, cost);
        add_alert(s, T_TRAVEL_ALERT);
        e->events.flags |= PR_EV_TRAVEL;
        e->events.travel_from = e->current_node;
        e->events.travel_to = dest;
        e->current_node = dest;
        e->selected = -1;
        e->nodes[dest].visited = 1;
        if (dest == 0) {
            e->counters.cargo_util_sum += cargo_total(s) / PR_CARGO_MAX;
            e->counters.cargo_util_count += 1.0;
        }
        return tt;
    }
    if (a >= PR_A_SELECT0 && a < PR_A_SELECT0 + PR_MAX_ASTEROIDS) {
        e->selected = a - PR_A_SELECT0;
        return 1;
    }
    if (a >= PR_A_MINE0 && a < PR_A_MINE0 + 3) {
        mine_tick(e, a - PR_A_MINE0);
        return 1;
    }
    if (a >= PR_A_JETTISON0 && a < PR_A_JETTISON0 + PR_N_COMMODITIES) {
        s->cargo[a - PR_A_JETTISON0] = 0.0;
        s->refined[a - PR_A_JETTISON0] = 0.0;
        e->events.flags |= PR_EV_JETTISON;
        return 1;
    }
    if (a >= PR_A_SELL0 && a < PR_A_SELL0 + 18) {
        station_sell(e, (a - PR_A_SELL0) / 3, (a - PR_A_SELL0) % 3);
        return 1;
    }
    if (a >= PR_A_BUY_FUEL0 && a <= PR_A_BUY_DECOY) {
        station_buy(e, a);
        return 1;
    }
    switch (a) {
    case PR_A_EMERGENCY_BURN:
        use_fuel(s, T_BURN_FUEL);
        s->escape_ticks = T_BURN_TICKS;
        add_alert(s, T_BURN_ALERT);
        return 1;
    case PR_A_WIDE_SCAN:
        scan_wide(e);
        use_fuel(s, T_WIDE_FUEL);
        add_alert(s, T_WIDE_ALERT);
        e->counters.scan_count += 1.0;
        e->events.flags |= PR_EV_SCAN;
        return T_WIDE_TICKS;
    case PR_A_FOCUSED_SCAN:
    case PR_A_DEEP_SCAN: {
        int deep = a == PR_A_DEEP_SCAN;
        scan_focused(e, deep);
        use_fuel(s, deep ? T_DEEP_FUEL : T_FOCUS_FUEL);
        add_alert(s, deep ? T_DEEP_ALERT : T_FOCUS_ALERT);
        e->counters.scan_count += 1.0;
        e->events.flags |= PR_EV_SCAN;
        return deep ? T_DEEP_TICKS : T_FOCUS_TICKS;
    }
    case PR_A_LISTEN:
        scan_listen(e);
        return T_LISTEN_TICKS;
    case PR_A_STABILIZE:
        s->stabilizers -= 1;
        e->stab_node = e->current_node;
        e->stab_ast = e->selected;
        e->stab_until = e->t + T_STABILIZE_DURATION;
        return T_STABILIZE_TICKS;
    case PR_A_REFINE:
        refine_onboard(e);
        return T_REFINE_TICKS;
    case PR_A_COOLDOWN:
        s->heat = maxd(0.0, s->heat - T_COOLDOWN_HEAT);
        use_fuel(s, T_COOLDOWN_FUEL);
        add_alert(s, T_COOLDOWN_ALERT);
        return 1;
    case PR_A_TOOL_MAINT:
        s->repair_kits -= 1;
        s->tool = mind(PR_TOOL_MAX, s->tool + T_TOOL_MAINT_GAIN);
        e->events.flags |= PR_EV_REPAIR;
        return T_TOOL_MAINT_TICKS;
    case PR_A_HULL_PATCH:
        s->repair_kits -= 1;
        s->hull = mind(PR_HULL_MAX, s->hull + T_HULL_PATCH_GAIN);
        e->events.flags |= PR_EV_REPAIR;
        return T_HULL_PATCH_TICKS;
    case PR_A_DOCK:
        station_dock(e);
        return T_DOCK_TICKS;
    case PR_A_OVERHAUL:
        station_overhaul(e);
        return T_OVERHAUL_TICKS;
    case PR_A_CASH_OUT:
        e->events.flags |= PR_EV_CASH_OUT;
        return 1;
    default: /* HOLD_DRIFT: quiet, lets the ship cool */
        s->heat = maxd(0.0, s->heat - T_HOLD_COOL);
        s->alert = maxd(0.0, s->alert - T_HOLD_ALERT_DECAY);
        return 1;
    }
}

static void passive_dynamics(pr_env *e, int dt) {
    pr_ship *s = &e->ship;
    int at_station = e->current_node == 0;
    e->time_remaining -= dt;
    e->t += dt;
    s->heat = maxd(0.0, s->heat - (at_station ? T_HEAT_DISS_STATION : T_HEAT_DISS) * (double)dt);
    s->alert = maxd(0.0, s->alert - (at_station ? T_ALERT_DECAY_STATION : T_ALERT_DECAY) * (double)dt);
    s->escape_ticks = s->escape_ticks > dt ? s->escape_ticks - dt : 0;
}

static void thresholds(pr_env *e, int dt) {
    pr_ship *s = &e->ship;
    if (s->heat > PR_HEAT_MAX) {
        double damage = (s->heat - PR_HEAT_MAX) * T_OVERHEAT_DAMAGE;
        s->heat = PR_HEAT_MAX;
        damage_hull(s, damage);
        e->events.flags |= PR_EV_OVERHEAT;
        e->events.overheat_damage = damage;
    }
    if (s->heat > T_OVERHEAT_THRESHOLD) e->counters.overheat_ticks += (double)dt;
}

static void termination(pr_env *e, int applied) {
    pr_ship *s = &e->ship;
    if (s->hull <= 0.0) {
        e->done = 1;
        e->counters.destroyed = 1;
        e->events.flags |= PR_EV_DESTROYED;
    } else if (s->fuel <= 0.0 && e->current_node != 0) {
        e->done = 1;
        e->counters.stranded = 1;
        e->events.flags |= PR_EV_STRANDED;
    } else if (applied == PR_A_CASH_OUT) {
        e->done = 1;
    } else if (e->time_remaining <= 0) {
        e->done = 2;
        e->events.flags |= PR_EV_TIME_UP;
    }
}

static void count_step(pr_env *e, const pr_step_snapshot *snap, int invalid, double reward) {
    pr_counters *k = &e->counters;
    const pr_ship *s = &e->ship;
    k->fuel_used += maxd(0.0, snap->fuel - s->fuel);
    k->hull_damage += maxd(0.0, snap->hull - s->hull);
    k->tool_wear += maxd(0.0, snap->tool - s->tool);
    k->invalid_actions += (double)invalid;
    k->steps += 1;
    k->episode_return += reward;
}

double pr_step(pr_env *e, int32_t action, int *terminated, int *truncated) {
    if (e->done) { /* a finished episode stays finished until reset */
        *terminated = e->done == 1;
        *truncated = e->done == 2;
        return 0.0;
    }
    pr_ship *s = &e->ship;
    pr_step_snapshot snap;
    snap.credits = s->credits;
    snap.fuel = s->fuel;
    snap.hull = s->hull;
    snap.heat = s->heat;
    snap.tool = s->tool;
    memcpy(snap.price, e->market.price, sizeof snap.price);
    snap.cargo_value = cargo_value_at(s, snap.price);
    memset(&e->events, 0, sizeof e->events);
    e->events.action = action;
    int selected_before = e->selected;

    int invalid = !pr_action_valid(e, action);              /* 1. decode */
    int applied = invalid ? PR_A_HOLD : action;
    if (invalid) e->events.flags |= PR_EV_INVALID;
    e->events.applied_action = applied;
    int dt = apply_action(e, applied);                      /* 2. primary effect */
    e->events.dt = dt;
    passive_dynamics(e, dt);                                /* 3. */
    thresholds(e, dt);                                      /* 4. */
    threats_apply(e, dt);                                   /* 5. */
    market_tick(e, dt);                                     /* 6. */
    termination(e, applied);                                /* 7. */
    double reward = reward_compute(e, &snap, dt, applied, invalid); /* 8. */
    count_step(e, &snap, invalid, reward);
    e->events.reward = reward;
    int field_slot = FIELD_NONE;
    if ((e->events.flags & PR_EV_TRAVEL) || e->events.scan_kind == 1) field_slot = FIELD_ALL;
    else if (e->events.flags & (PR_EV_SCAN | PR_EV_MINE)) field_slot = selected_before;
    refresh_derived(e, s->credits != snap.credits, field_slot);
    *terminated = e->done == 1;
    *truncated = e->done == 2;
    return reward;
}

void pr_episode_metrics(const pr_env *e, double *out) {
    const pr_counters *k = &e->counters;
    double net = e->ship.credits - k->start_credits;
    out[PR_M_RETURN] = k->episode_return;
    out[PR_M_CREDITS] = e->ship.credits;
    out[PR_M_NET_PROFIT] = net;
    out[PR_M_PROFIT_PER_TICK] = net / (double)(e->t > 0 ? e->t : 1);
    out[PR_M_SURVIVAL] = (k->destroyed || k->stranded) ? 0.0 : 1.0;
    out[PR_M_DESTROYED] = (double)k->destroyed;
    out[PR_M_STRANDED] = (double)k->stranded;
    out[PR_M_OVERHEAT_TICKS] = k->overheat_ticks;
    out[PR_M_PIRATE_ENCOUNTERS] = k->pirate_encounters;
    out[PR_M_VALUE_LOST_TO_PIRATES] = k->value_lost_to_pirates;
    out[PR_M_FUEL_USED] = k->fuel_used;
    out[PR_M_HULL_DAMAGE] = k->hull_damage;
    out[PR_M_TOOL_WEAR] = k->tool_wear;
    out[PR_M_SCAN_COUNT] = k->scan_count;
    out[PR_M_MINING_TICKS] = k->mining_ticks;
    out[PR_M_CARGO_UTILIZATION_AVG] = k->cargo_util_count > 0.0 ? k->cargo_util_sum / k->cargo_util_count : 0.0;
    out[PR_M_INVALID_ACTIONS] = k->invalid_actions;
    out[PR_M_EPISODE_LENGTH] = (double)e->t;
    out[PR_M_EPISODE_STEPS] = (double)k->steps;
}
