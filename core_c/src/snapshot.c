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

static int finite_in(double x, double lo, double hi) { return x >= lo && x <= hi; } /* false for NaN */

/* A checksum catches accidents; these checks keep a crafted state from
 * sending the engine out of its arrays. */
static int state_is_sane(const pr_env *e) {
    const pr_ship *s = &e->ship;
    if (e->n_nodes < T_MIN_NODES || e->n_nodes > PR_MAX_NODES) return 0;
    if (e->current_node < 0 || e->current_node >= e->n_nodes) return 0;
    if (e->selected < -1 || e->selected >= PR_MAX_ASTEROIDS) return 0;
    if (e->done < 0 || e->done > 2 || e->config.time_max < 1) return 0;
    if (e->config.reward_mode != PR_REWARD_SHAPED && e->config.reward_mode != PR_REWARD_SPARSE) return 0;
    for (int i = 0; i < e->n_nodes; i++) {
        const pr_node *n = &e->nodes[i];
        if (n->type > PR_NODE_HAZARD || n->degree > PR_MAX_NEIGHBORS || n->n_asteroids > PR_MAX_ASTEROIDS) return 0;
        for (int k = 0; k < n->degree; k++)
            if (n->neighbor[k] >= e->n_nodes || n->travel_time[k] > T_TRAVEL_MAX) return 0;
        for (int a = 0; a < n->n_asteroids; a++)
            if (e->asteroids[i][a].surface >= PR_N_COMMODITIES) return 0;
    }
    if (e->selected >= e->nodes[e->current_node].n_asteroids) return 0;
    if (!finite_in(s->fuel, 0.0, PR_FUEL_MAX) || !finite_in(s->hull, 0.0, PR_HULL_MAX) ||
        !finite_in(s->heat, 0.0, PR_HEAT_MAX) || !finite_in(s->tool, 0.0, PR_TOOL_MAX) ||
        !finite_in(s->alert, 0.0, PR_ALERT_MAX) || !finite_in(s->credits, 0.0, 1e15))
        return 0;
    for (int c = 0; c < PR_N_COMMODITIES; c++)
        if (!finite_in(s->cargo[c], 0.0, PR_CARGO_MAX) || !finite_in(s->refined[c], 0.0, PR_CARGO_MAX)) return 0;
    if (s->repair_kits < 0 || s->stabilizers < 0 || s->decoys < 0) return 0;
    return 1;
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
