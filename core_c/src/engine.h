/* Internal interface between the engine's systems (one file each). */
#ifndef PR_ENGINE_H
#define PR_ENGINE_H

#include "prospector.h"
#include "rng.h"
#include "tuning.h"

/* Quantized state back to [0, 1]: multiply by the reciprocal (the Python
 * reference uses the same products). */
#define INV_255 (1.0 / 255.0)
#define INV_65535 (1.0 / 65535.0)

static inline double clamp01(double x) { return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x); }
static inline double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }
static inline double maxd(double a, double b) { return a > b ? a : b; }
static inline double mind(double a, double b) { return a < b ? a : b; }
static inline uint8_t q255(double x) { return (uint8_t)(clamp01(x) * 255.0 + 0.5); }
static inline uint16_t q65535(double x) { return (uint16_t)(clamp01(x) * 65535.0 + 0.5); }

static inline double cargo_total(const pr_ship *s) {
    double t = 0.0;
    for (int c = 0; c < PR_N_COMMODITIES; c++) t += s->cargo[c];
    return t;
}

/* Value of the hold at the given prices: refined units are worth more. */
static inline double cargo_value_at(const pr_ship *s, const double *price) {
    double v = 0.0;
    for (int c = 0; c < PR_N_COMMODITIES; c++)
        v += price[c] * (s->cargo[c] + T_REFINED_BONUS * s->refined[c]);
    return v;
}

static inline void add_alert(pr_ship *s, double x) { s->alert = mind(PR_ALERT_MAX, s->alert + x); }
static inline void use_fuel(pr_ship *s, double x) { s->fuel = maxd(0.0, s->fuel - x); }
static inline void damage_hull(pr_ship *s, double x) { s->hull = maxd(0.0, s->hull - x); }

static inline double travel_fuel_cost(int travel_time, double cargo) {
    return T_FUEL_PER_TICK * (double)travel_time * (1.0 + cargo / PR_CARGO_MAX);
}

static inline double overhaul_cost(const pr_ship *s) {
    return T_OVERHAUL_BASE + T_OVERHAUL_HULL * (PR_HULL_MAX - s->hull) + T_OVERHAUL_TOOL * (PR_TOOL_MAX - s->tool);
}

static inline int asteroid_stabilized(const pr_env *e, int node, int slot) {
    return e->stab_node == node && e->stab_ast == slot && e->t < e->stab_until;
}

/* observe.c: recompute the cached mask and credits observation */
#define FIELD_NONE -1
#define FIELD_ALL -2
/* field_slot: FIELD_NONE, FIELD_ALL or the one asteroid slot that changed */
void refresh_derived(pr_env *e, int credits_changed, int field_slot);
/* world.c */
void world_generate(pr_env *e);
void asteroid_ensure_truth(pr_env *e, int node, int slot);
/* market.c */
void market_init(pr_env *e);
void market_tick(pr_env *e, int dt);
/* a commodity's price as the market state sets it (restore checks saved prices against it) */
double market_price(const pr_env *e, int c);
/* scan.c */
void scan_wide(pr_env *e);
void scan_focused(pr_env *e, int deep);
void scan_listen(pr_env *e);
/* mining.c */
void mine_tick(pr_env *e, int mode);
void refine_onboard(pr_env *e);
/* threats.c */
void threats_apply(pr_env *e, int dt);
/* station.c */
void station_sell(pr_env *e, int commodity, int bucket);
void station_buy(pr_env *e, int action);
void station_overhaul(pr_env *e);
void station_dock(pr_env *e);
/* reward.c */
typedef struct {
    double credits, fuel, hull, heat, tool, cargo_value;
    double price[PR_N_COMMODITIES];
} pr_step_snapshot;
double reward_compute(const pr_env *e, const pr_step_snapshot *snap, int dt, int applied, int invalid);

#endif
