/* Threats away from the station: hazards, then pirates. */
#include "engine.h"

static void hazards_tick(pr_env *e, const pr_node *n, int dt) {
    double intensity = (double)n->hazard * INV_255;
    double p = T_HAZARD_RATE * intensity * (double)dt;
    double u = rng_uniform(&e->rng);
    if (u < p) {
        double u2 = rng_uniform(&e->rng);
        double damage = T_HAZARD_DAMAGE + T_HAZARD_DAMAGE_SPREAD * u2 * intensity;
        damage_hull(&e->ship, damage);
        e->events.flags |= PR_EV_HAZARD;
        e->events.hazard_damage = damage;
    }
}

static void pirates_tick(pr_env *e, const pr_node *n, int dt) {
    pr_ship *s = &e->ship;
    double value = cargo_value_at(s, e->market.price);
    double p = T_PIRATE_RATE * (T_PIRATE_FLOOR + (double)n->pirate * INV_255);
    p *= 1.0 + T_PIRATE_ALERT_FACTOR * (s->alert / PR_ALERT_MAX);
    p *= 1.0 + T_PIRATE_CARGO_FACTOR * sqrt(value / 1000.0);
    if (s->escape_ticks > 0) p *= T_PIRATE_ESCAPE_FACTOR;
    p *= (double)dt;
    double u = rng_uniform(&e->rng);
    if (u >= p) return;

    double u2 = rng_uniform(&e->rng);
    double loss, damage;
    if (s->decoys > 0) {
        s->decoys -= 1;
        loss = T_DECOY_LOSS;
        damage = T_DECOY_DAMAGE;
        e->events.flags |= PR_EV_DECOY_USED;
    } else {
        loss = T_PIRATE_LOSS + T_PIRATE_LOSS_SPREAD * u2;
        damage = T_PIRATE_DAMAGE + T_PIRATE_DAMAGE_SPREAD * u2;
    }
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        s->cargo[c] -= s->cargo[c] * loss;
        s->refined[c] -= s->refined[c] * loss;
    }
    damage_hull(s, damage);
    add_alert(s, T_PIRATE_ALERT);
    e->counters.pirate_encounters += 1.0;
    e->counters.value_lost_to_pirates += value * loss;
    e->events.flags |= PR_EV_PIRATE;
    e->events.pirate_loss = value * loss;
    e->events.pirate_damage = damage;
}

void threats_apply(pr_env *e, int dt) {
    if (e->current_node == 0) return;
    const pr_node *n = &e->nodes[e->current_node];
    if (e->config.hazards) hazards_tick(e, n, dt);
    if (e->config.pirates) pirates_tick(e, n, dt);
}
