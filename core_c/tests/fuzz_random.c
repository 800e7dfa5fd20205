/* Sanitizer run (ASan + UBSan): many random episodes, every action index
 * (and out-of-range ones), under every curriculum stage. Checks: no crash,
 * no NaN/inf, every observation in [-1, 1], state invariants, and that a
 * save/restore mid-episode continues identically, that every state reached
 * is accepted by pr_restore, and that forged states (a few bytes changed,
 * the checksum made valid again) are refused or play on with observations
 * in [-1, 1] and finite rewards.
 * usage: fuzz_random [episodes] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prospector.h"

static int bad = 0;
#define INVARIANT(cond) do { if (!(cond)) { if (bad++ < 20) fprintf(stderr, "seed %llu step %d: %s\n", (unsigned long long)seed, step, #cond); } } while (0)

static pr_env env, copy, forged;

/* CRC-32 (IEEE), bit by bit: the checksum of a save, computed independently of the engine's. */
static uint32_t crc32_plain(const uint8_t *p, uint64_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static long long forged_total = 0, forged_accepted = 0;

/* Change 1..4 random bytes of the saved state, make the checksum valid, restore: a refusal is
 * fine; an accepted state must play 50 steps with observations in [-1, 1] and finite rewards. */
static void forge(const uint8_t *saved, uint8_t *work, uint64_t *rng, uint64_t seed) {
    uint64_t n = pr_save_size();
    memcpy(work, saved, n);
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    int changes = 1 + (int)((*rng >> 33) % 4);
    for (int i = 0; i < changes; i++) {
        *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t at = PR_SAVE_HEADER + (*rng >> 20) % (n - PR_SAVE_HEADER);
        work[at] = (uint8_t)(*rng >> 8);
    }
    uint32_t crc = crc32_plain(work + PR_SAVE_HEADER, n - PR_SAVE_HEADER);
    for (int i = 0; i < 4; i++) work[12 + i] = (uint8_t)(crc >> (8 * i));
    forged_total++;
    if (pr_restore(&forged, work, n) != 0) return;
    forged_accepted++;
    int step = -1;
    float obs[PR_OBS_DIM];
    for (step = 0; step < 50; step++) {
        *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int term, trunc;
        double r = pr_step(&forged, (int32_t)((*rng >> 33) % PR_N_ACTIONS), &term, &trunc);
        pr_observe(&forged, obs);
        INVARIANT(isfinite(r));
        for (int i = 0; i < PR_OBS_DIM; i++) INVARIANT(isfinite(obs[i]) && obs[i] >= -1.0f && obs[i] <= 1.0f);
    }
    /* and its render state is JSON within the cap (the play API writes it on every step) */
    static char json[PR_RENDER_JSON_CAP];
    static const char *name = "n";
    pr_json_names names;
    for (size_t i = 0; i < sizeof names / sizeof name; i++) ((const char **)&names)[i] = name;
    int64_t length = pr_render_json(&forged, &names, json, sizeof json);
    INVARIANT(length > 0 && json[0] == '{' && json[length - 1] == '}');
}

int main(int argc, char **argv) {
    int episodes = argc > 1 ? atoi(argv[1]) : 2000;
    uint64_t rng = 0x1234567;
    uint8_t *saved = malloc(pr_save_size()), *work = malloc(pr_save_size());
    long long total_steps = 0;
    for (uint64_t seed = 0; seed < (uint64_t)episodes; seed++) {
        pr_config cfg = pr_default_config();
        int stage = (int)(seed % 5);
        cfg.pirates = cfg.hazards = stage >= 3;
        cfg.scan_noise = cfg.fractures = stage >= 1;
        cfg.price_impact = stage >= 2;
        cfg.shocks = stage >= 4;
        cfg.reward_mode = (int32_t)(seed % 2);
        cfg.time_max = 500 + (int32_t)(seed % 7) * 500;
        pr_reset(&env, &cfg, seed);
        int term = 0, trunc = 0, step = 0;
        float obs[PR_OBS_DIM];
        uint8_t mask[PR_N_ACTIONS];
        while (!term && !trunc) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            int32_t a = (int32_t)((rng >> 33) % 75) - 3; /* includes -3..-1 and 69..71 */
            pr_action_mask(&env, mask);
            /* long-lived play: mostly valid actions, rarely cash out */
            if ((rng >> 20) % 4 != 0 && a >= 0 && a < PR_N_ACTIONS && (!mask[a] || a == PR_A_CASH_OUT)) a = PR_A_HOLD;
            if (step == 50) {
                pr_save(&env, saved, pr_save_size());
                INVARIANT(pr_restore(&copy, saved, pr_save_size()) == 0);
                for (int f = 0; f < 5; f++) forge(saved, work, &rng, seed);
            } else if (step % 25 == 0) { /* every state the engine reaches restores */
                pr_save(&env, work, pr_save_size());
                INVARIANT(pr_restore(&forged, work, pr_save_size()) == 0);
            }
            double r = pr_step(&env, a, &term, &trunc);
            if (step >= 50 && step < 150) {
                int t1, t2;
                pr_step(&copy, a, &t1, &t2);
                INVARIANT(memcmp(&copy, &env, sizeof env) == 0);
            }
            memset(obs, 0xFF, sizeof obs); /* NaN: any float pr_observe skips shows up */
            pr_observe(&env, obs);
            INVARIANT(isfinite(r));
            for (int i = 0; i < PR_OBS_DIM; i++) INVARIANT(isfinite(obs[i]) && obs[i] >= -1.0f && obs[i] <= 1.0f);
            const pr_ship *s = &env.ship;
            INVARIANT(s->fuel >= 0 && s->fuel <= PR_FUEL_MAX);
            INVARIANT(s->hull >= 0 && s->hull <= PR_HULL_MAX);
            INVARIANT(s->heat >= 0 && s->heat <= PR_HEAT_MAX);
            INVARIANT(s->tool >= 0 && s->tool <= PR_TOOL_MAX);
            INVARIANT(s->alert >= 0 && s->alert <= PR_ALERT_MAX);
            double cargo = 0;
            for (int c = 0; c < PR_N_COMMODITIES; c++) {
                INVARIANT(s->cargo[c] >= 0 && s->refined[c] >= 0 && s->refined[c] <= s->cargo[c] + 1e-9);
                cargo += s->cargo[c];
            }
            INVARIANT(cargo <= PR_CARGO_MAX + 1e-9);
            INVARIANT(s->credits >= 0);
            INVARIANT(s->repair_kits >= 0 && s->stabilizers >= 0 && s->decoys >= 0);
            INVARIANT(env.current_node >= 0 && env.current_node < env.n_nodes);
            step++;
            if (step > 200000) { INVARIANT(0 && "episode never ends"); break; }
        }
        total_steps += step;
        pr_save(&env, saved, pr_save_size()); /* the ended episode */
        INVARIANT(pr_restore(&copy, saved, pr_save_size()) == 0);
        for (int f = 0; f < 5; f++) forge(saved, work, &rng, seed);
    }
    free(saved);
    free(work);
    printf("fuzz: %d episodes, %lld steps, %lld forged states (%lld accepted), %d invariant violations\n",
           episodes, total_steps, forged_total, forged_accepted, bad);
    return bad != 0;
}
