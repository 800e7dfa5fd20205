/* Engine behavior tests: plain asserts, one function per behavior. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prospector.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { failures++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)

static pr_env env, env2;

static void test_reset_is_deterministic_per_seed(void) {
    pr_config cfg = pr_default_config();
    pr_reset(&env, &cfg, 42);
    pr_reset(&env2, &cfg, 42);
    CHECK(memcmp(&env, &env2, sizeof env) == 0);
    pr_reset(&env2, &cfg, 43);
    CHECK(memcmp(&env, &env2, sizeof env) != 0);
}

static void test_world_is_connected_with_station_at_node_zero(void) {
    pr_config cfg = pr_default_config();
    for (uint64_t seed = 0; seed < 300; seed++) {
        pr_reset(&env, &cfg, seed);
        CHECK(env.n_nodes >= 8 && env.n_nodes <= 32);
        CHECK(env.nodes[0].type == PR_NODE_STATION);
        CHECK(env.current_node == 0);
        for (int i = 0; i < env.n_nodes; i++) {
            CHECK(env.nodes[i].hops < 255);          /* reachable */
            CHECK(env.nodes[i].degree >= 1 && env.nodes[i].degree <= PR_MAX_NEIGHBORS);
            if (i > 0) CHECK(env.nodes[i].n_asteroids >= 2 && env.nodes[i].n_asteroids <= PR_MAX_ASTEROIDS);
            for (int k = 0; k < env.nodes[i].degree; k++) {
                int tt = env.nodes[i].travel_time[k];
                CHECK(tt >= 2 && tt <= 12);
            }
        }
    }
}

static void test_out_of_range_actions_are_invalid_holds(void) {
    pr_config cfg = pr_default_config();
    int32_t bad[] = {-1, 69, 1000, INT32_MIN, INT32_MAX};
    for (int i = 0; i < 5; i++) {
        pr_reset(&env, &cfg, 7);
        int term, trunc;
        double r = pr_step(&env, bad[i], &term, &trunc);
        CHECK(env.events.applied_action == PR_A_HOLD);
        CHECK(env.events.flags & PR_EV_INVALID);
        CHECK(env.counters.invalid_actions == 1.0);
        CHECK(r < 0.0);
        CHECK(!term && !trunc);
    }
}

static void test_cash_out_terminates_keeping_profit(void) {
    pr_config cfg = pr_default_config();
    pr_reset(&env, &cfg, 3);
    int term, trunc;
    pr_step(&env, PR_A_CASH_OUT, &term, &trunc);
    CHECK(term && !trunc);
    double m[PR_N_METRICS];
    pr_episode_metrics(&env, m);
    CHECK(m[PR_M_SURVIVAL] == 1.0);
    CHECK(m[PR_M_NET_PROFIT] == 0.0);
    CHECK(m[PR_M_EPISODE_STEPS] == 1.0);
}

static void test_time_budget_truncates(void) {
    pr_config cfg = pr_default_config();
    cfg.time_max = 10;
    pr_reset(&env, &cfg, 5);
    int term = 0, trunc = 0, steps = 0;
    while (!term && !trunc && steps < 100) { pr_step(&env, PR_A_HOLD, &term, &trunc); steps++; }
    CHECK(trunc && !term);
    CHECK(steps == 10);
}

/* Travel to the first cluster neighbor of the station; returns its slot or -1. */
static int travel_to_cluster(pr_env *e) {
    int term, trunc;
    for (int k = 0; k < e->nodes[0].degree; k++) {
        if (e->nodes[e->nodes[0].neighbor[k]].type == PR_NODE_CLUSTER) {
            pr_step(e, PR_A_TRAVEL0 + k, &term, &trunc);
            return k;
        }
    }
    return -1;
}

static void test_travel_costs_fuel_and_time(void) {
    pr_config cfg = pr_default_config();
    cfg.pirates = cfg.hazards = 0;
    for (uint64_t seed = 0; seed < 50; seed++) {
        pr_reset(&env, &cfg, seed);
        int k = travel_to_cluster(&env);
        if (k < 0) continue;
        int tt = env.nodes[0].travel_time[k];
        CHECK(env.current_node == env.nodes[0].neighbor[k]);
        CHECK(env.t == tt);
        CHECK(fabs(env.ship.fuel - (1000.0 - 2.0 * tt)) < 1e-9);
        CHECK(env.events.flags & PR_EV_TRAVEL);
        return;
    }
    CHECK(0 && "no seed with a cluster next to the station");
}

static void test_mining_fills_cargo_heats_and_wears_tool(void) {
    pr_config cfg = pr_default_config();
    cfg.pirates = cfg.hazards = cfg.fractures = 0;
    pr_reset(&env, &cfg, 11);
    CHECK(travel_to_cluster(&env) >= 0);
    int term, trunc;
    pr_step(&env, PR_A_SELECT0, &term, &trunc);
    CHECK(env.selected == 0);
    double heat0 = env.ship.heat;
    pr_step(&env, PR_A_MINE0 + 2, &term, &trunc);
    double cargo = 0;
    for (int c = 0; c < 6; c++) cargo += env.ship.cargo[c];
    CHECK(cargo > 0.0);
    CHECK(env.ship.heat > heat0);
    CHECK(env.ship.tool < 100.0);
    CHECK(env.counters.mining_ticks == 1.0);
}

static void test_overheating_damages_hull(void) {
    pr_config cfg = pr_default_config();
    cfg.pirates = cfg.hazards = cfg.fractures = 0;
    pr_reset(&env, &cfg, 11);
    CHECK(travel_to_cluster(&env) >= 0);
    int term, trunc, overheated = 0;
    pr_step(&env, PR_A_SELECT0, &term, &trunc);
    for (int i = 0; i < 40 && env.selected >= 0; i++) {
        pr_step(&env, PR_A_MINE0 + 2, &term, &trunc);
        if (env.events.flags & PR_EV_OVERHEAT) overheated = 1;
    }
    CHECK(overheated);
    CHECK(env.ship.hull < 100.0);
    CHECK(env.ship.heat <= 100.0);
    CHECK(env.counters.overheat_ticks > 0.0);
}

static void test_fracture_depletes_asteroid_and_damages_hull(void) {
    pr_config cfg = pr_default_config();
    cfg.pirates = cfg.hazards = 0;
    int seen = 0;
    for (uint64_t seed = 0; seed < 200 && !seen; seed++) {
        pr_reset(&env, &cfg, seed);
        if (travel_to_cluster(&env) < 0) continue;
        int term = 0, trunc = 0;
        for (int a = 0; a < env.nodes[env.current_node].n_asteroids && !seen && !term; a++) {
            pr_step(&env, PR_A_SELECT0 + a, &term, &trunc);
            for (int i = 0; i < 60 && env.selected >= 0 && !term; i++) {
                double hull = env.ship.hull;
                pr_step(&env, PR_A_MINE0 + 2, &term, &trunc);
                if (env.events.flags & PR_EV_FRACTURE) {
                    seen = 1;
                    CHECK(env.asteroids[env.current_node][a].depletion == 65535);
                    CHECK(env.ship.hull < hull);
                    CHECK(env.selected == -1);
                    break;
                }
                if (env.ship.heat > 80) pr_step(&env, PR_A_COOLDOWN, &term, &trunc);
            }
        }
    }
    CHECK(seen);
}

static void test_selling_pays_and_moves_price_down(void) {
    pr_config cfg = pr_default_config();
    cfg.shocks = 0;
    pr_reset(&env, &cfg, 9);
    env.ship.cargo[0] = 150.0;
    int term, trunc;
    double credits = env.ship.credits, price = env.market.price[0];
    pr_step(&env, PR_A_HOLD, &term, &trunc); /* refresh the cached mask after the edit */
    CHECK(pr_action_valid(&env, PR_A_SELL0 + 2));
    price = env.market.price[0];
    pr_step(&env, PR_A_SELL0 + 2, &term, &trunc);
    CHECK(env.ship.credits > credits);
    CHECK(env.ship.cargo[0] == 0.0);
    CHECK(env.events.sale_revenue < price * 150.0); /* slippage */
    CHECK(env.market.price[0] < price);               /* own sales push the price down */
}

static void test_station_actions_need_the_station(void) {
    pr_config cfg = pr_default_config();
    pr_reset(&env, &cfg, 1);
    CHECK(pr_action_valid(&env, PR_A_DOCK));
    CHECK(pr_action_valid(&env, PR_A_BUY_FUEL0));
    CHECK(!pr_action_valid(&env, PR_A_WIDE_SCAN));
    CHECK(travel_to_cluster(&env) >= 0 || 1);
    if (env.current_node != 0) {
        CHECK(!pr_action_valid(&env, PR_A_DOCK));
        CHECK(!pr_action_valid(&env, PR_A_BUY_FUEL0));
        CHECK(pr_action_valid(&env, PR_A_WIDE_SCAN));
    }
}

static void test_save_restore_round_trip_and_rejects_corruption(void) {
    pr_config cfg = pr_default_config();
    pr_reset(&env, &cfg, 77);
    int term, trunc;
    uint64_t rng = 5;
    for (int i = 0; i < 200; i++) { rng = rng * 6364136223846793005ULL + 1; pr_step(&env, (int32_t)((rng >> 33) % 69), &term, &trunc); if (term || trunc) break; }
    uint64_t n = pr_save_size();
    uint8_t *buf = malloc(n);
    CHECK(pr_save(&env, buf, n) == n);
    CHECK(pr_save(&env, buf, n - 1) == 0);
    memset(&env2, 0xAB, sizeof env2);
    CHECK(pr_restore(&env2, buf, n) == 0);
    CHECK(memcmp(&env, &env2, sizeof env) == 0);
    CHECK(pr_restore(&env2, buf, n - 1) == PR_ERR_TRUNCATED);
    CHECK(pr_restore(&env2, buf, 3) == PR_ERR_TRUNCATED);
    CHECK(pr_restore(&env2, NULL, 0) == PR_ERR_TRUNCATED);
    buf[100] ^= 1;
    CHECK(pr_restore(&env2, buf, n) == PR_ERR_CHECKSUM);
    buf[100] ^= 1;
    buf[0] = 'X';
    CHECK(pr_restore(&env2, buf, n) == PR_ERR_MAGIC);
    CHECK(memcmp(&env, &env2, sizeof env) == 0); /* untouched on error */
    free(buf);
}

static void test_batch_matches_single_env_and_auto_resets(void) {
    pr_config cfg = pr_default_config();
    enum { N = 5, STEPS = 400 };
    float obs[N * PR_OBS_DIM], rew[N];
    uint8_t term[N], trunc[N], masks[N * PR_N_ACTIONS];
    int32_t act[N];
    uint64_t seeds[N] = {10, 11, 12, 13, 14};
    pr_env singles[N];
    float final_obs[N * PR_OBS_DIM];
    double final_metrics[N * PR_N_METRICS];
    for (int threads = 1; threads <= 2; threads++) {
        pr_batch *b = pr_batch_create(N, &cfg, threads);
        pr_batch_set_buffers(b, obs, act, rew, term, trunc, masks);
        pr_batch_set_final_buffers(b, final_obs, final_metrics);
        pr_batch_reset_many(b, seeds);
        for (int i = 0; i < N; i++) pr_reset(&singles[i], &cfg, seeds[i]);
        int episodes = 0;
        uint64_t rng = 99;
        for (int s = 0; s < STEPS; s++) {
            for (int i = 0; i < N; i++) { rng = rng * 6364136223846793005ULL + 1; act[i] = (int32_t)((rng >> 33) % 69); }
            pr_batch_step_many(b);
            for (int i = 0; i < N; i++) {
                int t1, t2;
                double r = pr_step(&singles[i], act[i], &t1, &t2);
                CHECK((float)r == rew[i]);
                CHECK(t1 == term[i] && t2 == trunc[i]);
                float o[PR_OBS_DIM];
                if (t1 || t2) {
                    double m[PR_N_METRICS];
                    pr_observe(&singles[i], o);
                    CHECK(memcmp(o, final_obs + i * PR_OBS_DIM, sizeof o) == 0);
                    pr_episode_metrics(&singles[i], m);
                    CHECK(memcmp(m, final_metrics + i * PR_N_METRICS, sizeof m) == 0);
                    episodes++;
                    pr_reset(&singles[i], &cfg, pr_next_seed(singles[i].seed));
                }
                pr_observe(&singles[i], o);
                CHECK(memcmp(o, obs + i * PR_OBS_DIM, sizeof o) == 0);
            }
        }
        CHECK(episodes > 0);
        double sums[PR_N_METRICS], recs[64 * PR_N_METRICS];
        int64_t nrec;
        int64_t count = pr_batch_read_log(b, sums, recs, 64, &nrec);
        CHECK(count == episodes);
        CHECK(nrec > 0 && nrec <= count);
        CHECK(pr_batch_read_log(b, sums, recs, 64, &nrec) == 0); /* cleared */
        pr_batch_destroy(b);
    }
}

#define RUN(test) do { int before = failures; test(); if (failures == before) passed++; else { failed++; fprintf(stderr, "FAILED %s\n", #test); } } while (0)

static void check_json_double(double v, const char *expected) {
    char out[40];
    int n = pr_json_double(v, out);
    out[n] = 0;
    if (strcmp(out, expected) != 0) fprintf(stderr, "pr_json_double(%.17g) = %s, not %s\n", v, out, expected);
    CHECK(strcmp(out, expected) == 0);
}

static void test_json_doubles_are_the_shortest_round_trip_digits(void) {
    check_json_double(0.0, "0.0");
    check_json_double(-0.0, "-0.0");
    check_json_double(128.0, "128.0");
    check_json_double(0.1, "0.1");
    check_json_double(1.0 / 3.0, "0.3333333333333333");
    check_json_double((float)(64.0 / 255.0), "0.250980406999588");
    check_json_double(0.00001, "0.00001");
    check_json_double(1.5e-7, "1.5e-7");
    check_json_double(-2.5e-300, "-2.5e-300");
    check_json_double(5e-324, "5e-324");
    check_json_double(1e15, "1000000000000000.0");
    check_json_double(1e16, "1e+16");
    check_json_double(1.7976931348623157e308, "1.7976931348623157e+308");
    check_json_double(NAN, "null");
    for (int i = 0; i < 100000; i++) {     /* and each reads back as the same double */
        double v = ldexp((double)(i * 2654435761u % 1000003u) + 0.123, i % 200 - 100), back;
        char out[40];
        out[pr_json_double(v, out)] = 0;
        back = strtod(out, NULL);
        CHECK(back == v);
    }
}

static void test_render_json_fits_its_cap_and_refuses_a_smaller_buffer(void) {
    static const char *name = "n";
    pr_json_names names;
    const char **slot = (const char **)&names;
    for (size_t i = 0; i < sizeof names / sizeof *slot; i++) slot[i] = name;
    static char out[PR_RENDER_JSON_CAP];
    pr_config cfg = pr_default_config();
    pr_reset(&env, &cfg, 5);
    int64_t n = pr_render_json(&env, &names, out, sizeof out);
    CHECK(n > 1000 && out[0] == '{' && out[n - 1] == '}');
    CHECK(pr_render_json(&env, &names, out, n) == n);
    CHECK(pr_render_json(&env, &names, out, n - 1) == -1);
}

int main(void) {
    int passed = 0, failed = 0;
    RUN(test_reset_is_deterministic_per_seed);
    RUN(test_world_is_connected_with_station_at_node_zero);
    RUN(test_out_of_range_actions_are_invalid_holds);
    RUN(test_cash_out_terminates_keeping_profit);
    RUN(test_time_budget_truncates);
    RUN(test_travel_costs_fuel_and_time);
    RUN(test_mining_fills_cargo_heats_and_wears_tool);
    RUN(test_overheating_damages_hull);
    RUN(test_fracture_depletes_asteroid_and_damages_hull);
    RUN(test_selling_pays_and_moves_price_down);
    RUN(test_station_actions_need_the_station);
    RUN(test_save_restore_round_trip_and_rejects_corruption);
    RUN(test_batch_matches_single_env_and_auto_resets);
    RUN(test_json_doubles_are_the_shortest_round_trip_digits);
    RUN(test_render_json_fits_its_cap_and_refuses_a_smaller_buffer);
    printf("C engine tests: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
