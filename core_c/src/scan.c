/* Sensing: scans blend the estimate toward a noisy, biased reading of the
 * truth; listening sharpens the threat estimates of the neighbors. */
#include "engine.h"

typedef struct { double weight, noise, bias, gain, cap; } scan_params;

static const scan_params WIDE = {T_WIDE_W, T_WIDE_NOISE, T_WIDE_BIAS, T_WIDE_GAIN, T_WIDE_CAP};
static const scan_params FOCUSED = {T_FOCUS_W, T_FOCUS_NOISE, T_FOCUS_BIAS, T_FOCUS_GAIN, T_FOCUS_CAP};
static const scan_params DEEP = {T_DEEP_W, T_DEEP_NOISE, T_DEEP_BIAS, T_DEEP_GAIN, T_DEEP_CAP};

static void scan_asteroid(pr_env *e, int node, int slot, const scan_params *p) {
    asteroid_ensure_truth(e, node, slot);
    pr_asteroid *a = &e->asteroids[node][slot];
    int noisy = e->config.scan_noise;
    double profile = (double)a->noise * INV_255;
    double amp = p->noise * (0.3 + profile);
    double bias = p->bias * profile;
    double reading[PR_N_COMMODITIES], sum = 0.0;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        double truth = (double)a->true_comp[c] * INV_255;
        double x = truth;
        if (noisy) {
            double surface = c == a->surface ? 1.0 : 0.0;
            x = truth + bias * (surface - truth) + amp * rng_tri(&e->rng);
        }
        reading[c] = maxd(0.0, x);
        sum += reading[c];
    }
    if (sum <= 0.0) sum = 1.0;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        double est = (double)a->est_comp[c] * INV_255;
        a->est_comp[c] = q255((1.0 - p->weight) * est + p->weight * (reading[c] / sum));
    }
    double stab = (double)a->stability * INV_255;
    if (noisy) stab = stab + amp * rng_tri(&e->rng);
    double stab_est = (double)a->stab_est * INV_255;
    a->stab_est = q255((1.0 - p->weight) * stab_est + p->weight * stab);
    double conf = (double)a->conf * INV_255;
    double next = conf + p->gain;
    if (next > p->cap) next = conf > p->cap ? conf : p->cap;
    a->conf = q255(next);
}

void scan_wide(pr_env *e) {
    int node = e->current_node;
    for (int s = 0; s < e->nodes[node].n_asteroids; s++) scan_asteroid(e, node, s, &WIDE);
    e->events.scan_kind = 1;
}

void scan_focused(pr_env *e, int deep) {
    scan_asteroid(e, e->current_node, e->selected, deep ? &DEEP : &FOCUSED);
    e->events.scan_kind = deep ? 3 : 2;
}

static double threat_truth(const pr_env *e, const pr_node *n) {
    double t = 0.0;
    if (e->config.pirates) t += T_THREAT_PIRATE_W * ((double)n->pirate * INV_255);
    if (e->config.hazards) t += T_THREAT_HAZARD_W * ((double)n->hazard * INV_255);
    return clamp01(t);
}

void scan_listen(pr_env *e) {
    const pr_node *here = &e->nodes[e->current_node];
    for (int k = 0; k < here->degree; k++) {
        pr_node *n = &e->nodes[here->neighbor[k]];
        double est = (double)n->threat_est * INV_255;
        double reading = threat_truth(e, n) + T_LISTEN_NOISE * rng_tri(&e->rng);
        n->threat_est = q255(est + T_LISTEN_GAIN * (reading - est));
    }
}
