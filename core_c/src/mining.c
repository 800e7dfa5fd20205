/* Mining: stochastic yield from hidden richness and composition, heat, tool
 * wear, depletion, and fractures. Refining: less volume, more value. */
#include "engine.h"

static double heat_efficiency(double heat) {
    if (heat <= T_OVERHEAT_THRESHOLD) return 1.0;
    double x = (heat - T_OVERHEAT_THRESHOLD) / T_HEAT_EFF_SPAN;
    return maxd(0.1, 1.0 - T_HEAT_EFF_DROP * x * x);
}

void mine_tick(pr_env *e, int mode) {
    int node = e->current_node, slot = e->selected;
    asteroid_ensure_truth(e, node, slot);
    pr_asteroid *a = &e->asteroids[node][slot];
    pr_ship *s = &e->ship;

    double depletion = (double)a->depletion * INV_65535;
    double richness = (double)a->richness / 1000.0;
    double base = richness * (1.0 - depletion);
    double tool_eff = 0.4 + 0.6 * (s->tool / PR_TOOL_MAX);
    double noise = exp(T_MINE_SIGMA[mode] * rng_normal(&e->rng));
    double total = T_MINE_RATE * T_MINE_MULT[mode] * base * tool_eff * heat_efficiency(s->heat) * noise;
    double space = PR_CARGO_MAX - cargo_total(s);
    if (total > space) total = maxd(0.0, space);
    if (total > 0.0) {
        int qsum = 0;
        for (int c = 0; c < PR_N_COMMODITIES; c++) qsum += a->true_comp[c];
        for (int c = 0; c < PR_N_COMMODITIES; c++) s->cargo[c] += total * (double)a->true_comp[c] / (double)qsum;
        a->depletion = q65535(depletion + total / (T_DEPLETION_CAPACITY * richness + T_DEPLETION_FLOOR));
    }
    s->heat += T_MINE_HEAT[mode];
    s->tool = maxd(0.0, s->tool - T_MINE_WEAR[mode]);
    add_alert(s, T_MINE_ALERT[mode]);
    e->counters.mining_ticks += 1.0;
    e->events.flags |= PR_EV_MINE;
    e->events.mined_units = total;

    if (e->config.fractures) {
        double instability = 1.0 - (double)a->stability * INV_255;
        double heat_excess = maxd(0.0, s->heat - T_OVERHEAT_THRESHOLD) / T_HEAT_EFF_SPAN;
        double logit = T_FRACTURE_BASE + T_FRACTURE_MODE[mode] + T_FRACTURE_INSTABILITY * instability
                     + T_FRACTURE_HEAT * heat_excess + T_FRACTURE_WEAR * (1.0 - s->tool / PR_TOOL_MAX);
        if (asteroid_stabilized(e, node, slot)) logit -= T_FRACTURE_STABILIZED;
        double p = 1.0 / (1.0 + exp(-logit));
        double u = rng_uniform(&e->rng);
        if (u < p) {
            double u2 = rng_uniform(&e->rng);
            double damage = T_FRACTURE_DAMAGE + T_FRACTURE_DAMAGE_SPREAD * u2 * (double)(mode + 1) / 2.0;
            a->depletion = 65535;
            damage_hull(s, damage);
            e->events.flags |= PR_EV_FRACTURE;
            e->events.fracture_damage = damage;
        }
    }
    if (a->depletion == 65535) e->selected = -1;
}

void refine_onboard(pr_env *e) {
    pr_ship *s = &e->ship;
    double raw_total = 0.0;
    for (int c = 0; c < PR_N_COMMODITIES; c++) raw_total += s->cargo[c] - s->refined[c];
    if (raw_total > 0.0) {
        double batch = mind(T_REFINE_BATCH, raw_total);
        for (int c = 0; c < PR_N_COMMODITIES; c++) {
            double take = (s->cargo[c] - s->refined[c]) * batch / raw_total;
            s->cargo[c] -= take * (1.0 - T_REFINE_KEEP);
            s->refined[c] += take * T_REFINE_KEEP;
        }
    }
    s->heat += T_REFINE_HEAT;
    use_fuel(s, T_REFINE_FUEL);
    add_alert(s, T_REFINE_ALERT);
    e->events.flags |= PR_EV_REFINE;
}
