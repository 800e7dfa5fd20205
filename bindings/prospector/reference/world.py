"""Episode generation: the belt graph, lazy asteroid truth (core_c/src/world.c)."""

from __future__ import annotations

import math

from .engine import clampd, q255
from .rng import GOLDEN, MASK64, Rng, mix64
from .state import (AST_TRUTH, AST_VALID, MAX_ASTEROIDS, MAX_NEIGHBORS, N_COMMODITIES, NODE_CLUSTER,
                    NODE_HAZARD, NODE_STATION)
from .tuning import (T_CLUSTER_AST_MIN, T_CLUSTER_AST_RANGE, T_COMP_WEIGHT_CLUSTER, T_COMP_WEIGHT_HAZARD,
                     T_HAZARD_AST_MIN, T_HAZARD_AST_RANGE, T_HAZARD_CLUSTER_SPREAD, T_HAZARD_NODE_BASE,
                     T_HAZARD_NODE_FRACTION, T_HAZARD_NODE_SPREAD, T_MIN_NODES, T_NODE_RANGE,
                     T_NOISE_BASE_CLUSTER, T_NOISE_BASE_HAZARD, T_NOISE_SPREAD_CLUSTER, T_NOISE_SPREAD_HAZARD,
                     T_PIRATE_BASE, T_PIRATE_HAZARD_BONUS, T_PIRATE_PER_HOP, T_PIRATE_SPREAD, T_PRIOR_COMP,
                     T_PRIOR_CONF, T_PRIOR_STAB, T_RICH_MAX, T_RICH_MIN, T_RICH_MU_CLUSTER, T_RICH_MU_HAZARD,
                     T_RICH_SIGMA_CLUSTER, T_RICH_SIGMA_HAZARD, T_STAB_A_CLUSTER, T_STAB_A_HAZARD,
                     T_STAB_B_CLUSTER, T_STAB_B_HAZARD, T_THREAT_PRIOR_CLUSTER, T_THREAT_PRIOR_HAZARD,
                     T_TRAVEL_DIST_PER_TICK, T_TRAVEL_MAX, T_TRAVEL_MIN)

INT32_MAX = 2**31 - 1


def dist2(a, b) -> int:
    dx = a.x - b.x
    dy = a.y - b.y
    return dx * dx + dy * dy


def adjacent(n, j: int) -> bool:
    for k in range(n.degree):
        if n.neighbor[k] == j:
            return True
    return False


def link_nodes(nodes, a: int, b: int) -> None:
    tt = T_TRAVEL_MIN + int(math.sqrt(float(dist2(nodes[a], nodes[b]))) / T_TRAVEL_DIST_PER_TICK)
    if tt > T_TRAVEL_MAX:
        tt = T_TRAVEL_MAX
    na, nb = nodes[a], nodes[b]
    na.neighbor[na.degree] = b
    na.travel_time[na.degree] = tt
    na.degree += 1
    nb.neighbor[nb.degree] = a
    nb.travel_time[nb.degree] = tt
    nb.degree += 1


def nearest_free(nodes, i: int, limit: int) -> int:
    """Nearest node among [0, limit) to node i with a free neighbor slot, not i
    and not already adjacent to i; -1 if none. Ties go to the lower index."""
    best = -1
    best_d = INT32_MAX
    for j in range(limit):
        if j == i or nodes[j].degree >= MAX_NEIGHBORS or adjacent(nodes[i], j):
            continue
        d = dist2(nodes[i], nodes[j])
        if d < best_d:
            best_d = d
            best = j
    return best


def compute_hops(e) -> None:
    """Breadth-first from the station over neighbor slots in order; 255 = unreached."""
    for i in range(e.n_nodes):
        e.nodes[i].hops = 255
    queue = [0]
    head = 0
    e.nodes[0].hops = 0
    while head < len(queue):
        n = e.nodes[queue[head]]
        head += 1
        for k in range(n.degree):
            m = e.nodes[n.neighbor[k]]
            if m.hops == 255:
                m.hops = n.hops + 1
                queue.append(n.neighbor[k])


def world_generate(e) -> None:
    r = e.rng
    nodes = e.nodes
    e.world_seed = r.next()
    n = T_MIN_NODES + r.below(T_NODE_RANGE)
    e.n_nodes = n

    nodes[0].type = NODE_STATION
    nodes[0].x = 128
    nodes[0].y = 128
    for i in range(1, n):
        # node 1 is always a cluster, so every belt has ore (no draw for node 1)
        if i == 1 or r.uniform() >= T_HAZARD_NODE_FRACTION:
            nodes[i].type = NODE_CLUSTER
        else:
            nodes[i].type = NODE_HAZARD
        nodes[i].x = 8 + r.below(241)
        nodes[i].y = 8 + r.below(241)
    # spanning tree: each node joins its nearest earlier node
    for i in range(1, n):
        link_nodes(nodes, i, nearest_free(nodes, i, i))
    # loops: a few nodes also join their nearest non-neighbor
    for _ in range(n // 4):
        a = 1 + r.below(n - 1)
        if nodes[a].degree >= MAX_NEIGHBORS:
            continue
        b = nearest_free(nodes, a, n)
        if b >= 0:
            link_nodes(nodes, a, b)
    compute_hops(e)

    for i in range(1, n):
        nd = nodes[i]
        hazard_node = nd.type == NODE_HAZARD
        u = r.uniform()
        pirate = T_PIRATE_BASE + T_PIRATE_PER_HOP * float(nd.hops) + T_PIRATE_SPREAD * u
        if hazard_node:
            pirate += T_PIRATE_HAZARD_BONUS
        nd.pirate = q255(pirate)
        u2 = r.uniform()
        nd.hazard = q255(T_HAZARD_NODE_BASE + T_HAZARD_NODE_SPREAD * u2 if hazard_node
                         else T_HAZARD_CLUSTER_SPREAD * u2)
        nd.threat_est = q255(T_THREAT_PRIOR_HAZARD if hazard_node else T_THREAT_PRIOR_CLUSTER)
        n_ast = (T_HAZARD_AST_MIN + r.below(T_HAZARD_AST_RANGE) if hazard_node
                 else T_CLUSTER_AST_MIN + r.below(T_CLUSTER_AST_RANGE))
        nd.n_asteroids = n_ast
        for a in range(n_ast):
            ast = e.asteroids[i][a]
            ast.flags = AST_VALID
            for c in range(N_COMMODITIES):
                ast.est_comp[c] = q255(T_PRIOR_COMP)
            ast.stab_est = q255(T_PRIOR_STAB)
            ast.conf = q255(T_PRIOR_CONF)
    nodes[0].visited = 1


def gamma_int(r: Rng, k: int) -> float:
    """Gamma(k) for a small integer k: -log of a product of k uniforms."""
    p = 1.0
    for _ in range(k):
        p *= 1.0 - r.uniform()
    return -math.log(p)


def asteroid_ensure_truth(e, node: int, slot: int) -> None:
    """Hidden truth of one asteroid, from its own stream seeded by world_seed,
    node and slot: the same whenever it is first needed."""
    a = e.asteroids[node][slot]
    if a.flags & AST_TRUTH:
        return
    r = Rng(mix64(e.world_seed ^ (((node * MAX_ASTEROIDS + slot + 1) * GOLDEN) & MASK64)))
    hazard_node = e.nodes[node].type == NODE_HAZARD
    w = T_COMP_WEIGHT_HAZARD if hazard_node else T_COMP_WEIGHT_CLUSTER
    g = [0.0] * N_COMMODITIES
    total = 0.0
    for c in range(N_COMMODITIES):
        g[c] = w[c] * r.exp()
        total += g[c]
    if total <= 0.0:  # every draw exactly 0: probability 2^-318
        g = [1.0] * N_COMMODITIES
        total = 6.0
    for c in range(N_COMMODITIES):
        a.true_comp[c] = q255(g[c] / total)
    z = r.normal()
    rich = math.exp(T_RICH_MU_HAZARD + T_RICH_SIGMA_HAZARD * z if hazard_node
                    else T_RICH_MU_CLUSTER + T_RICH_SIGMA_CLUSTER * z)
    rich = clampd(rich, T_RICH_MIN, T_RICH_MAX)
    a.richness = int(rich * 1000.0 + 0.5)
    ga = gamma_int(r, T_STAB_A_HAZARD if hazard_node else T_STAB_A_CLUSTER)
    gb = gamma_int(r, T_STAB_B_HAZARD if hazard_node else T_STAB_B_CLUSTER)
    a.stability = q255(ga / (ga + gb)) if ga + gb > 0.0 else q255(0.5)
    u = r.uniform()
    a.noise = q255(T_NOISE_BASE_HAZARD + T_NOISE_SPREAD_HAZARD * u if hazard_node
                   else T_NOISE_BASE_CLUSTER + T_NOISE_SPREAD_CLUSTER * u)
    a.surface = r.below(N_COMMODITIES)
    a.flags |= AST_TRUTH
