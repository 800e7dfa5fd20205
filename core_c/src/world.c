/* Episode generation: the belt graph, lazy asteroid truth, the ship. */
#include <string.h>
#include "engine.h"

static int32_t dist2(const pr_node *a, const pr_node *b) {
    int32_t dx = (int32_t)a->x - (int32_t)b->x, dy = (int32_t)a->y - (int32_t)b->y;
    return dx * dx + dy * dy;
}

static int adjacent(const pr_node *n, int j) {
    for (int k = 0; k < n->degree; k++)
        if (n->neighbor[k] == j) return 1;
    return 0;
}

static void link_nodes(pr_node *nodes, int a, int b) {
    int tt = T_TRAVEL_MIN + (int)(sqrt((double)dist2(&nodes[a], &nodes[b])) / T_TRAVEL_DIST_PER_TICK);
    if (tt > T_TRAVEL_MAX) tt = T_TRAVEL_MAX;
    pr_node *na = &nodes[a], *nb = &nodes[b];
    na->neighbor[na->degree] = (uint8_t)b;
    na->travel_time[na->degree++] = (uint8_t)tt;
    nb->neighbor[nb->degree] = (uint8_t)a;
    nb->travel_time[nb->degree++] = (uint8_t)tt;
}

/* Nearest node among [0, limit) to node i with a free neighbor slot, not i
 * and not already adjacent to i; -1 if none. Ties go to the lower index. */
static int nearest_free(const pr_node *nodes, int i, int limit) {
    int best = -1;
    int32_t best_d = INT32_MAX;
    for (int j = 0; j < limit; j++) {
        if (j == i || nodes[j].degree >= PR_MAX_NEIGHBORS || adjacent(&nodes[i], j)) continue;
        int32_t d = dist2(&nodes[i], &nodes[j]);
        if (d < best_d) { best_d = d; best = j; }
    }
    return best;
}

static void compute_hops(pr_env *e) {
    uint8_t queue[PR_MAX_NODES];
    for (int i = 0; i < e->n_nodes; i++) e->nodes[i].hops = 255;
    int head = 0, tail = 0;
    e->nodes[0].hops = 0;
    queue[tail++] = 0;
    while (head < tail) {
        pr_node *n = &e->nodes[queue[head++]];
        for (int k = 0; k < n->degree; k++) {
            pr_node *m = &e->nodes[n->neighbor[k]];
            if (m->hops == 255) { m->hops = (uint8_t)(n->hops + 1); queue[tail++] = n->neighbor[k]; }
        }
    }
}

void world_generate(pr_env *e) {
    uint64_t *r = &e->rng;
    pr_node *nodes = e->nodes;
    e->world_seed = rng_next(r);
    int n = T_MIN_NODES + rng_below(r, T_NODE_RANGE);
    e->n_nodes = n;

    nodes[0].type = PR_NODE_STATION;
    nodes[0].x = 128;
    nodes[0].y = 128;
    for (int i = 1; i < n; i++) {
        /* node 1 is always a cluster, so every belt has ore */
        if (i == 1 || rng_uniform(r) >= T_HAZARD_NODE_FRACTION) nodes[i].type = PR_NODE_CLUSTER;
        else nodes[i].type = PR_NODE_HAZARD;
        nodes[i].x = (uint8_t)(8 + rng_below(r, 241));
        nodes[i].y = (uint8_t)(8 + rng_below(r, 241));
    }
    /* spanning tree: each node joins its nearest earlier node */
    for (int i = 1; i < n; i++) link_nodes(nodes, i, nearest_free(nodes, i, i));
    /* loops: a few nodes also join their nearest non-neighbor */
    for (int k = 0; k < n / 4; k++) {
        int a = 1 + rng_below(r, (uint32_t)(n - 1));
        if (nodes[a].degree >= PR_MAX_NEIGHBORS) continue;
        int b = nearest_free(nodes, a, n);
        if (b >= 0) link_nodes(nodes, a, b);
    }
    compute_hops(e);

    for (int i = 1; i < n; i++) {
        pr_node *nd = &nodes[i];
        int hazard_node = nd->type == PR_NODE_HAZARD;
        double u = rng_uniform(r);
        double pirate = T_PIRATE_BASE + T_PIRATE_PER_HOP * (double)nd->hops + T_PIRATE_SPREAD * u;
        if (hazard_node) pirate += T_PIRATE_HAZARD_BONUS;
        nd->pirate = q255(pirate);
        double u2 = rng_uniform(r);
        nd->hazard = q255(hazard_node ? T_HAZARD_NODE_BASE + T_HAZARD_NODE_SPREAD * u2 : T_HAZARD_CLUSTER_SPREAD * u2);
        nd->threat_est = q255(hazard_node ? T_THREAT_PRIOR_HAZARD : T_THREAT_PRIOR_CLUSTER);
        int n_ast = hazard_node ? T_HAZARD_AST_MIN + rng_below(r, T_HAZARD_AST_RANGE)
                                : T_CLUSTER_AST_MIN + rng_below(r, T_CLUSTER_AST_RANGE);
        nd->n_asteroids = (uint8_t)n_ast;
        for (int a = 0; a < n_ast; a++) {
            pr_asteroid *ast = &e->asteroids[i][a];
            ast->flags = PR_AST_VALID;
            for (int c = 0; c < PR_N_COMMODITIES; c++) ast->est_comp[c] = q255(T_PRIOR_COMP);
            ast->stab_est = q255(T_PRIOR_STAB);
            ast->conf = q255(T_PRIOR_CONF);
        }
    }
    nodes[0].visited = 1;
}

/* Gamma(k) for a small integer k: -log of a product of k uniforms. */
static double gamma_int(uint64_t *r, int k) {
    double p = 1.0;
    for (int i = 0; i < k; i++) p *= 1.0 - rng_uniform(r);
    return -log(p);
}

/* Hidden truth of one asteroid, from its own stream: the same whenever it
 * is first needed. */
void asteroid_ensure_truth(pr_env *e, int node, int slot) {
    pr_asteroid *a = &e->asteroids[node][slot];
    if (a->flags & PR_AST_TRUTH) return;
    uint64_t r = pr_mix64(e->world_seed ^ ((uint64_t)(node * PR_MAX_ASTEROIDS + slot + 1) * PR_GOLDEN));
    int hazard_node = e->nodes[node].type == PR_NODE_HAZARD;
    const double *w = hazard_node ? T_COMP_WEIGHT_HAZARD : T_COMP_WEIGHT_CLUSTER;
    double g[PR_N_COMMODITIES], sum = 0.0;
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        g[c] = w[c] * rng_exp(&r);
        sum += g[c];
    }
    if (sum <= 0.0) { /* every draw exactly 0: probability 2^-318 */
        for (int c = 0; c < PR_N_COMMODITIES; c++) g[c] = 1.0;
        sum = 6.0;
    }
    for (int c = 0; c < PR_N_COMMODITIES; c++) a->true_comp[c] = q255(g[c] / sum);
    double z = rng_normal(&r);
    double rich = exp(hazard_node ? T_RICH_MU_HAZARD + T_RICH_SIGMA_HAZARD * z : T_RICH_MU_CLUSTER + T_RICH_SIGMA_CLUSTER * z);
    rich = clampd(rich, T_RICH_MIN, T_RICH_MAX);
    a->richness = (uint16_t)(rich * 1000.0 + 0.5);
    double ga = gamma_int(&r, hazard_node ? T_STAB_A_HAZARD : T_STAB_A_CLUSTER);
    double gb = gamma_int(&r, hazard_node ? T_STAB_B_HAZARD : T_STAB_B_CLUSTER);
    a->stability = ga + gb > 0.0 ? q255(ga / (ga + gb)) : q255(0.5);
    double u = rng_uniform(&r);
    a->noise = q255(hazard_node ? T_NOISE_BASE_HAZARD + T_NOISE_SPREAD_HAZARD * u : T_NOISE_BASE_CLUSTER + T_NOISE_SPREAD_CLUSTER * u);
    a->surface = (uint8_t)rng_below(&r, PR_N_COMMODITIES);
    a->flags |= PR_AST_TRUTH;
}
