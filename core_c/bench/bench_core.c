/* c_core_sps: the engine alone, one thread, stepping a batch in place.
 * Workloads: "random" (uniform over all 69 actions) and "long" (uniform
 * among valid actions, CASH_OUT excluded). Prints one JSON object.
 * usage: bench_core [n_envs] [steps_per_env] [repeats] [random|long|both] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "prospector.h"
#include "../src/rng.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One action per env: random, or random among the valid ones (no CASH_OUT). */
static void pick_actions(int n, int long_workload, const uint8_t *masks, int32_t *actions, uint64_t *rng) {
    for (int i = 0; i < n; i++) {
        if (!long_workload) {
            actions[i] = rng_below(rng, PR_N_ACTIONS);
            continue;
        }
        const uint8_t *m = masks + (int64_t)i * PR_N_ACTIONS;
        int valid[PR_N_ACTIONS], k = 0;
        for (int a = 0; a < PR_A_CASH_OUT; a++) if (m[a]) valid[k++] = a;
        actions[i] = k ? valid[rng_below(rng, (uint32_t)k)] : PR_A_HOLD;
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 256;
    int steps = argc > 2 ? atoi(argv[2]) : 4000;
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    const char *only = argc > 4 ? argv[4] : "both";
    pr_config cfg = pr_default_config();
    float *obs = malloc(sizeof(float) * PR_OBS_DIM * n);
    float *rew = malloc(sizeof(float) * n);
    uint8_t *term = malloc(n), *trunc = malloc(n), *masks = malloc((size_t)PR_N_ACTIONS * n);
    int32_t *act = malloc(sizeof(int32_t) * n);
    uint64_t *seeds = malloc(sizeof(uint64_t) * n);
    /* the action stream is precomputed per step outside the timed region
     * would need steps*n ints; instead time action picking separately and
     * subtract it */
    printf("{\"n_envs\": %d, \"steps_per_env\": %d, \"repeats\": %d, \"state_bytes\": %zu", n, steps, repeats, sizeof(pr_env));
    for (int w = 0; w < 2; w++) {
        if (strcmp(only, "both") != 0 && strcmp(only, w ? "long" : "random") != 0) continue;
        double sps[64], pick_only[64];
        for (int r = 0; r < repeats && r < 64; r++) {
            pr_batch *b = pr_batch_create(n, &cfg, 1);
            pr_batch_set_buffers(b, obs, act, rew, term, trunc, masks);
            for (int i = 0; i < n; i++) seeds[i] = (uint64_t)(1000 * r + i);
            pr_batch_reset_many(b, seeds);
            uint64_t rng = 12345 + (uint64_t)r;
            double t_pick = 0.0, t0 = now();
            for (int s = 0; s < steps; s++) {
                double tp = now();
                pick_actions(n, w, masks, act, &rng);
                t_pick += now() - tp;
                pr_batch_step_many(b);
            }
            double el = now() - t0;
            sps[r] = (double)n * steps / (el - t_pick);
            pick_only[r] = t_pick;
            double sums[PR_N_METRICS];
            int64_t nrec;
            int64_t eps = pr_batch_read_log(b, sums, NULL, 0, &nrec);
            if (r == 0) fprintf(stderr, "%s: %lld episodes, mean length %.1f steps\n", w ? "long" : "random",
                                (long long)eps, eps ? sums[PR_M_EPISODE_STEPS] / eps : 0.0);
            pr_batch_destroy(b);
        }
        int k = repeats < 64 ? repeats : 64;
        qsort(sps, k, sizeof(double), cmp);
        printf(", \"%s_sps\": %.0f, \"%s_sps_runs\": [", w ? "long" : "random", sps[k / 2], w ? "long" : "random");
        for (int r = 0; r < k; r++) printf("%s%.0f", r ? ", " : "", sps[r]);
        printf("]");
        (void)pick_only;
    }
    printf("}\n");
    return 0;
}
