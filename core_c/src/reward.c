/* SPEC section 6, nothing else. */
#include "engine.h"

double reward_compute(const pr_env *e, const pr_step_snapshot *snap, int dt, int applied, int invalid) {
    const pr_ship *s = &e->ship;
    int destroyed = (e->events.flags & PR_EV_DESTROYED) != 0;
    int stranded = (e->events.flags & PR_EV_STRANDED) != 0;
    double r;
    if (e->config.reward_mode == PR_REWARD_SPARSE) {
        r = e->events.sale_revenue / PR_CREDIT_SCALE;
    } else {
        double dcredits = s->credits - snap->credits;
        double dvalue = cargo_value_at(s, snap->price) - snap->cargo_value;
        double fuel_used = maxd(0.0, snap->fuel - s->fuel);
        double tool_wear = maxd(0.0, snap->tool - s->tool);
        double hull_damage = maxd(0.0, snap->hull - s->hull);
        double heat_excess = maxd(0.0, s->heat - T_OVERHEAT_THRESHOLD) / 100.0;
        r = dcredits / PR_CREDIT_SCALE;
        r += 0.02 * maxd(0.0, dvalue) / PR_CREDIT_SCALE;
        r -= 0.10 * fuel_used / 100.0;
        r -= 0.001 * (double)dt;
        r -= 0.05 * tool_wear / 10.0;
        r -= 0.20 * (heat_excess * heat_excess);
        r -= 1.00 * hull_damage / 10.0;
        if (applied == PR_A_WIDE_SCAN || applied == PR_A_FOCUSED_SCAN || applied == PR_A_DEEP_SCAN) r -= 0.005;
        if (invalid) r -= 0.01;
    }
    if (stranded) r -= 50.0;
    if (destroyed) r -= 100.0;
    if (e->config.reward_mode != PR_REWARD_SPARSE && e->done && !stranded && !destroyed)
        r += 0.002 * s->credits / PR_CREDIT_SCALE;
    return r;
}
