/* Render snapshot for people, and save/restore of the full state. */
#include <pthread.h>
#include <string.h>
#include "engine.h"

void pr_render_snapshot(const pr_env *e, pr_render *out) {
    memset(out, 0, sizeof *out);
    out->n_nodes = e->n_nodes;
    out->current_node = e->current_node;
    out->selected = e->selected;
    out->t = e->t;
    out->time_remaining = e->time_remaining;
    out->time_max = e->config.time_max;
    out->done = e->done;
    for (int i = 0; i < e->n_nodes; i++) {
        const pr_node *n = &e->nodes[i];
        out->node_type[i] = n->type;
        out->node_x[i] = n->x;
        out->node_y[i] = n->y;
        out->node_degree[i] = n->degree;
        out->node_visited[i] = n->visited;
        out->node_hops[i] = n->hops;
        memcpy(out->node_neighbor[i], n->neighbor, PR_MAX_NEIGHBORS);
        memcpy(out->node_travel_time[i], n->travel_time, PR_MAX_NEIGHBORS);
        out->node_threat_est[i] = (float)((double)n->threat_est * INV_255);
    }
    const pr_node *here = &e->nodes[e->current_node];
    out->n_asteroids = here->n_asteroids;
    for (int a = 0; a < here->n_asteroids; a++) {
        const pr_asteroid *ast = &e->asteroids[e->current_node][a];
        out->ast_valid[a] = 1;
        for (int c = 0; c < PR_N_COMMODITIES; c++) out->ast_comp[a][c] = (float)((double)ast->est_comp[c] * INV_255);
        out->ast_stability[a] = (float)((double)ast->stab_est * INV_255);
        out->ast_depletion[a] = (float)((double)ast->depletion * INV_65535);
        out->ast_confidence[a] = (float)((double)ast->conf * INV_255);
    }
    const pr_ship *s = &e->ship;
    out->fuel = s->fuel;
    out->hull = s->hull;
    out->heat = s->heat;
    out->tool = s->tool;
    out->alert = s->alert;
    out->credits = s->credits;
    memcpy(out->cargo, s->cargo, sizeof out->cargo);
    memcpy(out->refined, s->refined, sizeof out->refined);
    out->repair_kits = s->repair_kits;
    out->stabilizers = s->stabilizers;
    out->decoys = s->decoys;
    out->escape_ticks = s->escape_ticks;
    memcpy(out->price, e->market.price, sizeof out->price);
    memcpy(out->prev_price, e->market.prev_price, sizeof out->prev_price);
    memcpy(out->inventory, e->market.inventory, sizeof out->inventory);
    out->cargo_value = cargo_value_at(s, e->market.price);
    pr_action_mask(e, out->mask);
    out->events = e->events;
    pr_episode_metrics(e, out->metrics);
}

/* ---- save / restore ---- */

static const uint8_t SAVE_MAGIC[4] = {'A', 'B', 'P', 'S'};

/* CRC-32 (IEEE, as zlib), eight bytes per round ("slicing by 8"): a save and a
 * restore each checksum the whole 13.8 kB state, and a play session does one
 * per step. The tables are built once, on first use. */
static uint32_t CRC_TABLE[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        CRC_TABLE[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            CRC_TABLE[t][i] = (CRC_TABLE[t - 1][i] >> 8) ^ CRC_TABLE[0][CRC_TABLE[t - 1][i] & 0xFFu];
}

static uint32_t crc32(const uint8_t *p, uint64_t n) {
    pthread_once(&crc_table_once, crc_table_build);
    const uint32_t (*T)[256] = (const uint32_t (*)[256])CRC_TABLE;
    uint32_t c = 0xFFFFFFFFu;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = T[7][lo & 0xFFu] ^ T[6][(lo >> 8) & 0xFFu] ^ T[5][(lo >> 16) & 0xFFu] ^ T[4][lo >> 24] ^
            T[3][hi & 0xFFu] ^ T[2][(hi >> 8) & 0xFFu] ^ T[1][(hi >> 16) & 0xFFu] ^ T[0][hi >> 24];
    }
    for (; n > 0; p++, n--) c = (c >> 8) ^ T[0][(c ^ *p) & 0xFFu];
    return c ^ 0xFFFFFFFFu;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t pr_save_size(void) { return PR_SAVE_HEADER + sizeof(pr_env); }

uint64_t pr_save(const pr_env *e, uint8_t *out, uint64_t cap) {
    if (cap < pr_save_size()) return 0;
    memcpy(out, SAVE_MAGIC, 4);
    put_u32(out + 4, PR_SPEC_VERSION);
    put_u32(out + 8, (uint32_t)sizeof(pr_env));
    memcpy(out + PR_SAVE_HEADER, e, sizeof(pr_env));
    put_u32(out + 12, crc32(out + PR_SAVE_HEADER, sizeof(pr_env)));
    return pr_save_size();
}

/* ---- what a restored state may hold ----
 * The checksum catches accidents; these checks are for states that were
 * forged or come from a place that is not trusted (play sessions come back
 * from Redis): every field must hold a value the engine could have put
 * there, every double must be finite and in its range, and what the engine
 * derives from other fields (prices, travel times, hops, the time budget)
 * must agree with them. Anything else is refused, so a restored state can
 * neither leave the engine's arrays nor make it observe or reward NaN,
 * infinity or a value outside [-1, 1]. */

#define MAX_DT 12          /* the longest action (travel at T_TRAVEL_MAX) */
#define SANE_BIG 1e15      /* credits, returns and running sums: far beyond any episode */
#define SLACK 1e-6         /* rounding of sums that are capped in exact arithmetic */

#define REQUIRE(cond) do { if (!(cond)) return 0; } while (0)

static int in_range(double x, double lo, double hi) { return x >= lo && x <= hi; } /* false for NaN */

static int all_zero(const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

static int config_is_sane(const pr_config *c) {
    REQUIRE(c->time_max >= 1);
    REQUIRE(c->reward_mode == PR_REWARD_SHAPED || c->reward_mode == PR_REWARD_SPARSE);
    REQUIRE(c->pirates <= 1 && c->hazards <= 1 && c->scan_noise <= 1 && c->fractures <= 1);
    REQUIRE(c->price_impact <= 1 && c->shocks <= 1);
    return all_zero(c->_pad, sizeof c->_pad);
}

static int graph_is_sane(const pr_env *e) {
    REQUIRE(e->n_nodes >= T_MIN_NODES && e->n_nodes <= T_MIN_NODES + T_NODE_RANGE - 1);
    uint8_t hops[PR_MAX_NODES], queue[PR_MAX_NODES];
    for (int i = 0; i < e->n_nodes; i++) {
        const pr_node *n = &e->nodes[i];
        if (i == 0) {
            REQUIRE(n->type == PR_NODE_STATION && n->n_asteroids == 0 && n->x == 128 && n->y == 128);
            REQUIRE(n->pirate == 0 && n->hazard == 0 && n->visited == 1);
        } else if (n->type == PR_NODE_CLUSTER) {
            REQUIRE(n->n_asteroids >= T_CLUSTER_AST_MIN && n->n_asteroids < T_CLUSTER_AST_MIN + T_CLUSTER_AST_RANGE);
        } else {
            REQUIRE(i != 1 && n->type == PR_NODE_HAZARD); /* node 1 is always a cluster */
            REQUIRE(n->n_asteroids >= T_HAZARD_AST_MIN && n->n_asteroids < T_HAZARD_AST_MIN + T_HAZARD_AST_RANGE);
        }
        if (i > 0) REQUIRE(n->x >= 8 && n->x <= 248 && n->y >= 8 && n->y <= 248);
        REQUIRE(n->visited <= 1);
        REQUIRE(n->degree >= 1 && n->degree <= PR_MAX_NEIGHBORS);
        for (int k = 0; k < n->degree; k++) {
            int j = n->neighbor[k];
            REQUIRE(j < e->n_nodes && j != i);
            for (int l = 0; l < k; l++) REQUIRE(n->neighbor[l] != j);
            /* the travel time follows from the positions, and links go both ways */
            const pr_node *m = &e->nodes[j];
            int32_t dx = (int32_t)n->x - (int32_t)m->x, dy = (int32_t)n->y - (int32_t)m->y;
            int tt = T_TRAVEL_MIN + (int)(sqrt((double)(dx * dx + dy * dy)) / T_TRAVEL_DIST_PER_TICK);
            if (tt > T_TRAVEL_MAX) tt = T_TRAVEL_MAX;
            REQUIRE(n->travel_time[k] == tt);
            int back = 0;
            for (int l = 0; l < m->degree && l < PR_MAX_NEIGHBORS; l++) back |= m->neighbor[l] == i;
            REQUIRE(back);
        }
        for (int k = n->degree; k < PR_MAX_NEIGHBORS; k++) REQUIRE(n->neighbor[k] == 0 && n->travel_time[k] == 0);
        hops[i] = 255;
    }
    /* hops: the breadth-first distance to the station, as world generation computes it */
    int head = 0, tail = 0;
    hops[0] = 0;
    queue[tail++] = 0;
    while (head < tail) {
        const pr_node *n = &e->nodes[queue[head]];
        uint8_t h = hops[queue[head++]];
        for (int k = 0; k < n->degree; k++)
            if (hops[n->neighbor[k]] == 255) { hops[n->neighbor[k]] = (uint8_t)(h + 1); queue[tail++] = n->neighbor[k]; }
    }
    for (int i = 0; i < e->n_nodes; i++) REQUIRE(e->nodes[i].hops == hops[i]); /* 255: unreachable, as generated */
    REQUIRE(e->nodes[e->current_node].visited == 1);
    REQUIRE(all_zero(&e->nodes[e->n_nodes], sizeof(pr_node) * (size_t)(PR_MAX_NODES - e->n_nodes)));
    return 1;
}

static int asteroids_are_sane(const pr_env *e) {
    for (int i = 0; i < PR_MAX_NODES; i++) {
        int n_ast = i < e->n_nodes ? e->nodes[i].n_asteroids : 0;
        int hazard_node = i < e->n_nodes && e->nodes[i].type == PR_NODE_HAZARD;
        for (int s = 0; s < n_ast; s++) {
            const pr_asteroid *a = &e->asteroids[i][s];
            REQUIRE((a->flags & PR_AST_VALID) && !(a->flags & ~(PR_AST_VALID | PR_AST_TRUTH)));
            REQUIRE(a->conf >= 26 && a->conf <= 250); /* the prior, 0.1, up to the deep scan's cap, 0.98 */
            if (!(a->flags & PR_AST_TRUTH)) { /* the hidden truth is not drawn yet */
                REQUIRE(all_zero(a->true_comp, sizeof a->true_comp));
                REQUIRE(a->richness == 0 && a->stability == 0 && a->noise == 0 && a->surface == 0);
                continue;
            }
            int qsum = 0;
            for (int c = 0; c < PR_N_COMMODITIES; c++) qsum += a->true_comp[c];
            REQUIRE(qsum >= 255 - 4 && qsum <= 255 + 4); /* shares of one, each rounded to 1/255 */
            REQUIRE(a->richness >= (uint16_t)(T_RICH_MIN * 1000.0) && a->richness <= (uint16_t)(T_RICH_MAX * 1000.0));
            if (hazard_node) REQUIRE(a->noise >= 76 && a->noise <= 230);   /* 0.3 .. 0.9 */
            else REQUIRE(a->noise >= 25 && a->noise <= 154);                /* 0.1 .. 0.6 */
            REQUIRE(a->surface < PR_N_COMMODITIES);
        }
        REQUIRE(all_zero(&e->asteroids[i][n_ast], sizeof(pr_asteroid) * (size_t)(PR_MAX_ASTEROIDS - n_ast)));
    }
    return 1;
}

static int ship_is_sane(const pr_env *e) {
    const pr_ship *s = &e->ship;
    REQUIRE(in_range(s->fuel, 0.0, PR_FUEL_MAX) && in_range(s->hull, 0.0, PR_HULL_MAX));
    REQUIRE(in_range(s->heat, 0.0, PR_HEAT_MAX) && in_range(s->tool, 0.0, PR_TOOL_MAX));
    REQUIRE(in_range(s->alert, 0.0, PR_ALERT_MAX) && in_range(s->credits, 0.0, SANE_BIG));
    double total = 0.0;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        REQUIRE(in_range(s->cargo[c], 0.0, PR_CARGO_MAX + SLACK));
        REQUIRE(in_range(s->refined[c], 0.0, s->cargo[c] + SLACK)); /* the refined part of the cargo */
        total += s->cargo[c];
    }
    REQUIRE(total <= PR_CARGO_MAX + SLACK);
    REQUIRE(s->repair_kits >= 0 && s->repair_kits <= T_ITEM_CAP);
    REQUIRE(s->stabilizers >= 0 && s->stabilizers <= T_ITEM_CAP);
    REQUIRE(s->decoys >= 0 && s->decoys <= T_ITEM_CAP);
    REQUIRE(s->escape_ticks >= 0 && s->escape_ticks <= T_BURN_TICKS);
    return 1;
}

static int market_is_sane(const pr_env *e) {
    const pr_market *m = &e->market;
    const double omega_min = 6.283185307179586 / (T_PRICE_PERIOD + T_PRICE_PERIOD_SPREAD);
    const double omega_max = 6.283185307179586 / T_PRICE_PERIOD;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        double nominal = T_PRICE_NOMINAL[c];
        REQUIRE(in_range(m->base[c], nominal * (1.0 - T_PRICE_REGIME / 2.0), nominal * (1.0 + T_PRICE_REGIME / 2.0)));
        REQUIRE(in_range(m->amp[c], T_PRICE_AMP, T_PRICE_AMP + T_PRICE_AMP_SPREAD));
        REQUIRE(in_range(m->rot_sin[c], sin(omega_min) - 1e-12, sin(omega_max) + 1e-12));
        REQUIRE(in_range(m->rot_cos[c], cos(omega_max) - 1e-12, cos(omega_min) + 1e-12));
        REQUIRE(in_range(m->rot_sin[c] * m->rot_sin[c] + m->rot_cos[c] * m->rot_cos[c], 1.0 - 1e-9, 1.0 + 1e-9));
        /* the demand cycle is a unit vector, rotated once per tick: rounding drifts it very slowly */
        REQUIRE(in_range(m->cyc_sin[c], -1.001, 1.001) && in_range(m->cyc_cos[c], -1.001, 1.001));
        REQUIRE(in_range(m->cyc_sin[c] * m->cyc_sin[c] + m->cyc_cos[c] * m->cyc_cos[c], 1.0 - 1e-3, 1.0 + 1e-3));
        REQUIRE(in_range(m->inv_target[c], T_INV_TARGET, T_INV_TARGET + T_INV_TARGET_SPREAD));
        REQUIRE(m->inv_impact[c] == T_IMPACT_INVENTORY / m->inv_target[c]);
        /* sales add at most a full hold a step, and relax back toward the target */
        REQUIRE(in_range(m->inventory[c], m->inv_target[c] - SLACK,
                         m->inv_target[c] + PR_CARGO_MAX / (1.0 - T_INV_RELAX) + 1.0));
        REQUIRE(in_range(m->recent_sales[c], 0.0, PR_CARGO_MAX / (1.0 - T_SALES_DECAY) + 1.0));
        double shock_max = (T_SHOCK_SIZE + T_SHOCK_SIZE_SPREAD) / (1.0 - T_SHOCK_DECAY);
        REQUIRE(in_range(m->shock[c], -shock_max, shock_max));
        /* the price is a function of the rest (recomputed after every tick) */
        REQUIRE(m->price[c] == market_price(e, c));
        REQUIRE(in_range(m->prev_price[c], m->base[c] * T_PRICE_FACTOR_MIN, m->base[c] * T_PRICE_FACTOR_MAX));
    }
    return 1;
}

static int counters_are_sane(const pr_env *e) {
    const pr_counters *k = &e->counters;
    REQUIRE(k->steps >= 0 && k->steps <= e->t); /* every step takes at least one tick */
    double steps = (double)k->steps;
    REQUIRE(in_range(k->episode_return, -SANE_BIG, SANE_BIG));
    REQUIRE(in_range(k->start_credits, T_START_CREDITS, T_START_CREDITS + T_START_CREDITS_SPREAD));
    REQUIRE(k->start_credits == (double)(int)k->start_credits);
    REQUIRE(in_range(k->overheat_ticks, 0.0, (double)e->t));
    REQUIRE(in_range(k->pirate_encounters, 0.0, steps) && in_range(k->value_lost_to_pirates, 0.0, SANE_BIG));
    REQUIRE(in_range(k->fuel_used, 0.0, SANE_BIG) && in_range(k->hull_damage, 0.0, SANE_BIG));
    REQUIRE(in_range(k->tool_wear, 0.0, SANE_BIG));
    REQUIRE(in_range(k->scan_count, 0.0, steps) && in_range(k->mining_ticks, 0.0, steps));
    REQUIRE(in_range(k->invalid_actions, 0.0, steps));
    REQUIRE(in_range(k->cargo_util_count, 0.0, steps));
    REQUIRE(in_range(k->cargo_util_sum, 0.0, k->cargo_util_count * (1.0 + SLACK)));
    REQUIRE((k->destroyed == 0 || k->destroyed == 1) && (k->stranded == 0 || k->stranded == 1));
    REQUIRE(!(k->destroyed && k->stranded) && ((!k->destroyed && !k->stranded) || e->done == 1));
    REQUIRE(!k->destroyed || e->ship.hull == 0.0);
    REQUIRE(!k->stranded || (e->ship.fuel == 0.0 && e->current_node != 0));
    return k->_pad == 0;
}

static int events_are_sane(const pr_env *e) {
    const pr_events *v = &e->events;
    REQUIRE(v->flags < (1u << PR_N_EVENTS));
    REQUIRE(v->applied_action >= -1 && v->applied_action < PR_N_ACTIONS);
    REQUIRE(v->dt >= 0 && v->dt <= MAX_DT);
    REQUIRE(v->travel_from >= 0 && v->travel_from < e->n_nodes && v->travel_to >= 0 && v->travel_to < e->n_nodes);
    REQUIRE(v->scan_kind >= 0 && v->scan_kind <= 3);
    REQUIRE(v->sale_commodity >= 0 && v->sale_commodity < PR_N_COMMODITIES);
    REQUIRE(in_range(v->sale_units, 0.0, PR_CARGO_MAX + SLACK) && in_range(v->sale_revenue, 0.0, SANE_BIG));
    REQUIRE(in_range(v->purchase_cost, 0.0, SANE_BIG) && in_range(v->mined_units, 0.0, PR_CARGO_MAX + SLACK));
    REQUIRE(in_range(v->fracture_damage, 0.0, SANE_BIG) && in_range(v->overheat_damage, 0.0, SANE_BIG));
    REQUIRE(in_range(v->hazard_damage, 0.0, SANE_BIG) && in_range(v->pirate_damage, 0.0, SANE_BIG));
    REQUIRE(in_range(v->pirate_loss, 0.0, SANE_BIG) && in_range(v->reward, -SANE_BIG, SANE_BIG));
    return 1;
}

static int state_is_sane(const pr_env *e) {
    REQUIRE(config_is_sane(&e->config));
    REQUIRE(e->n_nodes >= T_MIN_NODES && e->n_nodes <= T_MIN_NODES + T_NODE_RANGE - 1);
    REQUIRE(e->current_node >= 0 && e->current_node < e->n_nodes);
    REQUIRE(graph_is_sane(e) && asteroids_are_sane(e));
    /* the selected asteroid is one of here that is not spent */
    const pr_node *here = &e->nodes[e->current_node];
    REQUIRE(e->selected >= -1 && e->selected < here->n_asteroids);
    REQUIRE(e->selected < 0 || e->asteroids[e->current_node][e->selected].depletion < 65535);
    /* the time budget: t ticks used of time_max; a step takes at most MAX_DT */
    REQUIRE(e->t >= 0 && (int64_t)e->t + (int64_t)e->time_remaining == (int64_t)e->config.time_max);
    REQUIRE(e->time_remaining >= 1 - MAX_DT);
    /* one stabilized asteroid, or none (-1, -1, 0) */
    if (e->stab_node == -1) {
        REQUIRE(e->stab_ast == -1 && e->stab_until == 0);
    } else {
        REQUIRE(e->stab_node >= 1 && e->stab_node < e->n_nodes);
        REQUIRE(e->stab_ast >= 0 && e->stab_ast < e->nodes[e->stab_node].n_asteroids);
        REQUIRE(e->stab_until >= T_STABILIZE_DURATION && (int64_t)e->stab_until <= (int64_t)e->t + T_STABILIZE_DURATION);
    }
    REQUIRE(e->done >= 0 && e->done <= 2);
    REQUIRE(ship_is_sane(e) && market_is_sane(e) && counters_are_sane(e) && events_are_sane(e));
    if (e->done == 0) /* an episode that goes on has not met any end */
        REQUIRE(e->time_remaining >= 1 && e->ship.hull > 0.0 && (e->ship.fuel > 0.0 || e->current_node == 0));
    if (e->done == 2) REQUIRE(e->time_remaining <= 0);
    return e->_pad == 0 && all_zero(e->_pad2, sizeof e->_pad2);
}

int pr_restore(pr_env *e, const uint8_t *buf, uint64_t len) {
    if (buf == NULL || len < PR_SAVE_HEADER) return PR_ERR_TRUNCATED;
    if (memcmp(buf, SAVE_MAGIC, 4) != 0) return PR_ERR_MAGIC;
    if (get_u32(buf + 4) != PR_SPEC_VERSION) return PR_ERR_VERSION;
    if (get_u32(buf + 8) != (uint32_t)sizeof(pr_env)) return PR_ERR_SIZE;
    if (len < pr_save_size()) return PR_ERR_TRUNCATED;
    if (len > pr_save_size()) return PR_ERR_SIZE;
    if (get_u32(buf + 12) != crc32(buf + PR_SAVE_HEADER, sizeof(pr_env))) return PR_ERR_CHECKSUM;
    pr_env tmp;
    memcpy(&tmp, buf + PR_SAVE_HEADER, sizeof tmp);
    if (!state_is_sane(&tmp)) return PR_ERR_INVALID_STATE;
    refresh_derived(&tmp, 1, FIELD_ALL); /* never trust cached values from outside */
    *e = tmp;
    return 0;
}

const char *pr_error_string(int code) {
    switch (code) {
    case 0: return "ok";
    case PR_ERR_TRUNCATED: return "saved state is truncated";
    case PR_ERR_MAGIC: return "not a saved Prospector state (bad magic)";
    case PR_ERR_VERSION: return "saved state is from another spec version";
    case PR_ERR_SIZE: return "saved state has the wrong size for this engine build";
    case PR_ERR_CHECKSUM: return "saved state is corrupt (checksum mismatch)";
    case PR_ERR_INVALID_STATE: return "saved state holds out-of-range values";
    default: return "unknown error";
    }
}
