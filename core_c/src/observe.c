/* The 260 floats (SPEC section 2) and the action mask (SPEC section 3). */
#include <string.h>
#include "engine.h"

#define LOG1P_1E7 16.11809565095832

/* q/255 as float for every byte value, folded by the compiler: the
 * asteroid section is 16 x 11 of these per step. */
#define U1(i) ((float)((double)(i) * INV_255))
#define U4(i) U1(i), U1(i + 1), U1(i + 2), U1(i + 3)
#define U16(i) U4(i), U4(i + 4), U4(i + 8), U4(i + 12)
#define U64(i) U16(i), U16(i + 16), U16(i + 32), U16(i + 48)
static const float U8_UNIT[256] = {U64(0), U64(64), U64(128), U64(192)};

void pr_observe(const pr_env *e, float *obs) {
    const pr_ship *s = &e->ship;
    const pr_node *here = &e->nodes[e->current_node];
    double cargo = cargo_total(s);

    obs[0] = (float)(s->fuel / PR_FUEL_MAX);
    obs[1] = (float)(s->hull / PR_HULL_MAX);
    obs[2] = (float)(s->heat / PR_HEAT_MAX);
    obs[3] = (float)(s->tool / PR_TOOL_MAX);
    obs[4] = (float)(cargo / PR_CARGO_MAX);
    obs[5] = (float)(s->alert / PR_ALERT_MAX);
    obs[6] = (float)clamp01((double)e->time_remaining / (double)e->config.time_max);
    obs[7] = e->credits_obs;
    for (int c = 0; c < PR_N_COMMODITIES; c++) obs[8 + c] = (float)(s->cargo[c] / PR_CARGO_MAX);
    obs[14] = (float)mind(1.0, (double)s->repair_kits / 10.0);
    obs[15] = (float)mind(1.0, (double)s->stabilizers / 10.0);
    obs[16] = (float)mind(1.0, (double)s->decoys / 10.0);
    obs[17] = e->current_node == 0 ? 1.0f : 0.0f;
    obs[18] = e->selected >= 0 ? 1.0f : 0.0f;
    obs[19] = obs[20] = obs[21] = 0.0f;
    obs[19 + here->type] = 1.0f;
    obs[22] = (float)((double)e->current_node / (double)(PR_MAX_NODES - 1));
    obs[23] = (float)((double)here->hops / (double)(PR_MAX_NODES - 1));

    /* unused neighbor slots, and the 2 padding floats 66..67 after slot 5 */
    memset(obs + 24 + 7 * here->degree, 0, sizeof(float) * (7 * (PR_MAX_NEIGHBORS - here->degree) + 2));
    for (int k = 0; k < here->degree; k++) {
        float *o = obs + 24 + 7 * k;
        const pr_node *n = &e->nodes[here->neighbor[k]];
        o[0] = 1.0f;
        o[1] = o[2] = o[3] = 0.0f;
        o[1 + n->type] = 1.0f;
        o[4] = (float)((double)here->travel_time[k] / (double)T_TRAVEL_MAX);
        o[5] = (float)(travel_fuel_cost(here->travel_time[k], cargo) / T_FUEL_COST_MAX);
        o[6] = U8_UNIT[n->threat_est];
    }

    memcpy(obs + 68, e->field_obs, sizeof e->field_obs);
    if (e->selected >= 0) obs[68 + 11 * e->selected + 10] = 1.0f;

    const pr_market *m = &e->market;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        double nominal = T_PRICE_NOMINAL[c];
        obs[244 + c] = (float)clamp01(m->price[c] / (T_PRICE_OBS_SCALE * nominal));
        obs[250 + c] = (float)clampd((m->price[c] - m->prev_price[c]) / (T_PRICE_DELTA_SCALE * nominal), -1.0, 1.0);
    }
    static const int INVENTORY_OBS[4] = {0, 2, 3, 4}; /* iron, water_ice, pge, rare_isotopes */
    for (int i = 0; i < 4; i++)
        obs[256 + i] = (float)clamp01(m->inventory[INVENTORY_OBS[i]] / T_INVENTORY_OBS_MAX);
}

/* Validity of all 69 actions at once (SPEC section 3): the one home of the
 * validity rules. Cached in e->mask by refresh_derived(). */
static void mask_compute(const pr_env *e, uint8_t *mask) {
    const pr_ship *s = &e->ship;
    const pr_node *here = &e->nodes[e->current_node];
    const pr_asteroid *field = e->asteroids[e->current_node];
    int at_station = e->current_node == 0;
    int selected = e->selected >= 0;
    memset(mask, 0, PR_N_ACTIONS);
    for (int k = 0; k < here->degree; k++) mask[PR_A_TRAVEL0 + k] = 1;
    mask[PR_A_HOLD] = 1;
    mask[PR_A_EMERGENCY_BURN] = s->fuel > 0.0;
    mask[PR_A_WIDE_SCAN] = !at_station && here->n_asteroids > 0;
    mask[PR_A_FOCUSED_SCAN] = mask[PR_A_DEEP_SCAN] = (uint8_t)selected;
    mask[PR_A_LISTEN] = 1;
    for (int a = 0; a < here->n_asteroids; a++) mask[PR_A_SELECT0 + a] = field[a].depletion < 65535;
    mask[PR_A_MINE0] = mask[PR_A_MINE0 + 1] = mask[PR_A_MINE0 + 2] = (uint8_t)selected;
    mask[PR_A_STABILIZE] = selected && s->stabilizers > 0;
    mask[PR_A_COOLDOWN] = 1;
    mask[PR_A_TOOL_MAINT] = mask[PR_A_HULL_PATCH] = s->repair_kits > 0;
    int any_cargo = 0;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        int held = s->cargo[c] > 0.0;
        any_cargo |= held;
        mask[PR_A_JETTISON0 + c] = (uint8_t)held;
        if (at_station) mask[PR_A_SELL0 + 3 * c] = mask[PR_A_SELL0 + 3 * c + 1] = mask[PR_A_SELL0 + 3 * c + 2] = (uint8_t)held;
    }
    mask[PR_A_REFINE] = (uint8_t)any_cargo;
    if (at_station) {
        mask[PR_A_DOCK] = 1;
        for (int k = 0; k < 3; k++) mask[PR_A_BUY_FUEL0 + k] = s->credits >= T_FUEL_COST[k];
        mask[PR_A_BUY_KIT] = s->credits >= T_KIT_COST;
        mask[PR_A_BUY_STABILIZER] = s->credits >= T_STABILIZER_COST;
        mask[PR_A_BUY_DECOY] = s->credits >= T_DECOY_COST;
        mask[PR_A_OVERHAUL] = s->credits >= overhaul_cost(s);
    }
    mask[PR_A_CASH_OUT] = 1;
}

/* The asteroid section changes only when the ship moves, scans or mines, so
 * it is rendered then (selection flags left 0) and copied every step. */
static void field_render_slot(pr_env *e, int a) {
    const pr_asteroid *ast = &e->asteroids[e->current_node][a];
    float *o = e->field_obs + 11 * a;
    o[0] = 1.0f;
    for (int c = 0; c < PR_N_COMMODITIES; c++) o[1 + c] = U8_UNIT[ast->est_comp[c]];
    o[7] = U8_UNIT[ast->stab_est];
    o[8] = (float)((double)ast->depletion * INV_65535);
    o[9] = U8_UNIT[ast->conf];
    o[10] = 0.0f;
}

static void field_render(pr_env *e) {
    int n = e->nodes[e->current_node].n_asteroids;
    memset(e->field_obs + 11 * n, 0, sizeof(float) * 11 * (PR_MAX_ASTEROIDS - n));
    for (int a = 0; a < n; a++) field_render_slot(e, a);
}

void refresh_derived(pr_env *e, int credits_changed, int field_slot) {
    mask_compute(e, e->mask);
    if (field_slot == FIELD_ALL) field_render(e);
    else if (field_slot >= 0) field_render_slot(e, field_slot);
    if (credits_changed) e->credits_obs = (float)mind(1.0, log1p(maxd(e->ship.credits, 0.0)) / LOG1P_1E7);
}

void pr_action_mask(const pr_env *e, uint8_t *mask) { memcpy(mask, e->mask, PR_N_ACTIONS); }

int pr_action_valid(const pr_env *e, int32_t action) {
    return action >= 0 && action < PR_N_ACTIONS && e->mask[action];
}
