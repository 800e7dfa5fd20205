/* The station market: demand cycles, inventory, your own sales, shocks. */
#include "engine.h"

/* D^k for k < DECAY_TABLE as the loop below would compute it (1.0 * D * D
 * ..., left to right), folded by the compiler. */
#define DECAY_TABLE 13
#define POW_TABLE(D) {1.0, 1.0 * D, 1.0 * D * D, 1.0 * D * D * D, 1.0 * D * D * D * D, 1.0 * D * D * D * D * D, \
    1.0 * D * D * D * D * D * D, 1.0 * D * D * D * D * D * D * D, 1.0 * D * D * D * D * D * D * D * D,           \
    1.0 * D * D * D * D * D * D * D * D * D, 1.0 * D * D * D * D * D * D * D * D * D * D,                         \
    1.0 * D * D * D * D * D * D * D * D * D * D * D, 1.0 * D * D * D * D * D * D * D * D * D * D * D * D}
static const double INV_RELAX_POW[DECAY_TABLE] = POW_TABLE(T_INV_RELAX);
static const double SALES_DECAY_POW[DECAY_TABLE] = POW_TABLE(T_SALES_DECAY);
static const double SHOCK_DECAY_POW[DECAY_TABLE] = POW_TABLE(T_SHOCK_DECAY);

double market_price(const pr_env *e, int c) {
    const pr_market *m = &e->market;
    double pressure = 0.0;
    if (e->config.price_impact)
        pressure = m->inv_impact[c] * (m->inventory[c] - m->inv_target[c]) + T_IMPACT_SALES * m->recent_sales[c];
    double factor = 1.0 + m->amp[c] * m->cyc_sin[c] + m->shock[c] - pressure;
    return m->base[c] * clampd(factor, T_PRICE_FACTOR_MIN, T_PRICE_FACTOR_MAX);
}

void market_init(pr_env *e) {
    uint64_t *r = &e->rng;
    pr_market *m = &e->market;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        double u = rng_uniform(r);
        m->base[c] = T_PRICE_NOMINAL[c] * (1.0 - T_PRICE_REGIME / 2.0 + T_PRICE_REGIME * u);
        u = rng_uniform(r);
        m->amp[c] = T_PRICE_AMP + T_PRICE_AMP_SPREAD * u;
        u = rng_uniform(r);
        double omega = 6.283185307179586 / (T_PRICE_PERIOD + T_PRICE_PERIOD_SPREAD * u);
        m->rot_sin[c] = sin(omega);
        m->rot_cos[c] = cos(omega);
        u = rng_uniform(r);
        double phase = 6.283185307179586 * u;
        m->cyc_sin[c] = sin(phase);
        m->cyc_cos[c] = cos(phase);
        u = rng_uniform(r);
        m->inv_target[c] = T_INV_TARGET + T_INV_TARGET_SPREAD * u;
        m->inv_impact[c] = T_IMPACT_INVENTORY / m->inv_target[c];
        m->inventory[c] = m->inv_target[c];
        m->recent_sales[c] = 0.0;
        m->shock[c] = 0.0;
        m->price[c] = market_price(e, c);
        m->prev_price[c] = m->price[c];
    }
}

void market_tick(pr_env *e, int dt) {
    pr_market *m = &e->market;
    /* per-tick decays raised to dt by repeated multiplication (no pow: the
     * Python reference repeats exactly these products) */
    double inv_k, sales_k, shock_k;
    if (dt < DECAY_TABLE) {
        inv_k = INV_RELAX_POW[dt];
        sales_k = SALES_DECAY_POW[dt];
        shock_k = SHOCK_DECAY_POW[dt];
    } else {
        inv_k = sales_k = shock_k = 1.0;
        for (int i = 0; i < dt; i++) {
            inv_k *= T_INV_RELAX;
            sales_k *= T_SALES_DECAY;
            shock_k *= T_SHOCK_DECAY;
        }
    }
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        m->prev_price[c] = m->price[c];
        /* demand cycle: rotate the unit vector by omega per tick */
        double s = m->cyc_sin[c], co = m->cyc_cos[c];
        for (int i = 0; i < dt; i++) {
            double s2 = s * m->rot_cos[c] + co * m->rot_sin[c];
            co = co * m->rot_cos[c] - s * m->rot_sin[c];
            s = s2;
        }
        m->cyc_sin[c] = s;
        m->cyc_cos[c] = co;
        m->inventory[c] = m->inv_target[c] + (m->inventory[c] - m->inv_target[c]) * inv_k;
        m->recent_sales[c] *= sales_k;
        m->shock[c] *= shock_k;
    }
    if (e->config.shocks) {
        double u = rng_uniform(&e->rng);
        if (u < T_SHOCK_RATE * (double)dt) {
            int c = rng_below(&e->rng, PR_N_COMMODITIES);
            double u2 = rng_uniform(&e->rng);
            double size = T_SHOCK_SIZE + T_SHOCK_SIZE_SPREAD * u2;
            m->shock[c] += u2 < 0.5 ? -size : size;
            e->events.flags |= PR_EV_SHOCK;
        }
    }
    for (int c = 0; c < PR_N_COMMODITIES; c++) m->price[c] = market_price(e, c);
}
