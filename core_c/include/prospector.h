/* Asteroid Belt Prospector: public C API of the engine.
 *
 * Frozen contract: ../shared/SPEC.md (OBS_DIM 260, N_ACTIONS 69, reward).
 * Plain structs, plain functions. One env's whole state is a POD `pr_env`
 * (no pointers inside), so save/restore is a checked byte copy.
 * Nothing here allocates or touches global mutable state while stepping.
 *
 * Numbers in the state are doubles where they change continuously (ship,
 * market) and small integers where they are per-asteroid / per-node data
 * (quantized: q/255 or q/65535), which keeps an env under 16 KB.
 */
#ifndef PROSPECTOR_H
#define PROSPECTOR_H

#include <stdint.h>

#define PR_SPEC_VERSION 1

#define PR_N_COMMODITIES 6
#define PR_MAX_NODES 32
#define PR_MAX_NEIGHBORS 6
#define PR_MAX_ASTEROIDS 16
#define PR_OBS_DIM 260
#define PR_N_ACTIONS 69

#define PR_FUEL_MAX 1000.0
#define PR_HULL_MAX 100.0
#define PR_HEAT_MAX 100.0
#define PR_TOOL_MAX 100.0
#define PR_ALERT_MAX 100.0
#define PR_CARGO_MAX 200.0
#define PR_CREDIT_SCALE 1000.0
#define PR_TIME_MAX_DEFAULT 20000

enum { PR_NODE_STATION = 0, PR_NODE_CLUSTER = 1, PR_NODE_HAZARD = 2 };
#define PR_N_NODE_TYPES 3
enum { PR_REWARD_SHAPED = 0, PR_REWARD_SPARSE = 1 };

/* Action indices (SPEC section 3). */
enum {
    PR_A_TRAVEL0 = 0,         /* 0..5 */
    PR_A_HOLD = 6,
    PR_A_EMERGENCY_BURN = 7,
    PR_A_WIDE_SCAN = 8,
    PR_A_FOCUSED_SCAN = 9,
    PR_A_DEEP_SCAN = 10,
    PR_A_LISTEN = 11,
    PR_A_SELECT0 = 12,        /* 12..27 */
    PR_A_MINE0 = 28,          /* 28 conservative, 29 standard, 30 aggressive */
    PR_A_STABILIZE = 31,
    PR_A_REFINE = 32,
    PR_A_COOLDOWN = 33,
    PR_A_TOOL_MAINT = 34,
    PR_A_HULL_PATCH = 35,
    PR_A_JETTISON0 = 36,      /* 36..41 */
    PR_A_DOCK = 42,
    PR_A_SELL0 = 43,          /* 43..60 */
    PR_A_BUY_FUEL0 = 61,      /* 61..63 */
    PR_A_BUY_KIT = 64,
    PR_A_BUY_STABILIZER = 65,
    PR_A_BUY_DECOY = 66,
    PR_A_OVERHAUL = 67,
    PR_A_CASH_OUT = 68
};

/* Event bits of the last step (render snapshot, replays). */
enum {
    PR_EV_TRAVEL = 1u << 0,
    PR_EV_SCAN = 1u << 1,
    PR_EV_MINE = 1u << 2,
    PR_EV_FRACTURE = 1u << 3,
    PR_EV_OVERHEAT = 1u << 4,
    PR_EV_HAZARD = 1u << 5,
    PR_EV_PIRATE = 1u << 6,
    PR_EV_DECOY_USED = 1u << 7,
    PR_EV_DOCK = 1u << 8,
    PR_EV_SALE = 1u << 9,
    PR_EV_PURCHASE = 1u << 10,
    PR_EV_REPAIR = 1u << 11,
    PR_EV_JETTISON = 1u << 12,
    PR_EV_REFINE = 1u << 13,
    PR_EV_SHOCK = 1u << 14,
    PR_EV_INVALID = 1u << 15,
    PR_EV_DESTROYED = 1u << 16,
    PR_EV_STRANDED = 1u << 17,
    PR_EV_CASH_OUT = 1u << 18,
    PR_EV_TIME_UP = 1u << 19
};
#define PR_N_EVENTS 20

/* Episode metrics (SPEC section 7), in this order everywhere. */
enum {
    PR_M_RETURN = 0,          /* sum of rewards of the episode */
    PR_M_CREDITS,
    PR_M_NET_PROFIT,
    PR_M_PROFIT_PER_TICK,
    PR_M_SURVIVAL,
    PR_M_DESTROYED,
    PR_M_STRANDED,
    PR_M_OVERHEAT_TICKS,
    PR_M_PIRATE_ENCOUNTERS,
    PR_M_VALUE_LOST_TO_PIRATES,
    PR_M_FUEL_USED,
    PR_M_HULL_DAMAGE,
    PR_M_TOOL_WEAR,
    PR_M_SCAN_COUNT,
    PR_M_MINING_TICKS,
    PR_M_CARGO_UTILIZATION_AVG,
    PR_M_INVALID_ACTIONS,
    PR_M_EPISODE_LENGTH,
    PR_M_EPISODE_STEPS,
    PR_N_METRICS
};

/* Env config: time budget, reward mode and the curriculum switches of the
 * game design (stage 1: all off; stage 5: all on). */
typedef struct {
    int32_t time_max;      /* ticks per episode */
    int32_t reward_mode;   /* PR_REWARD_SHAPED or PR_REWARD_SPARSE */
    uint8_t pirates;       /* pirate encounters (and alert's effect on them) */
    uint8_t hazards;       /* micro-meteoroid / radiation damage at hazard-prone nodes */
    uint8_t scan_noise;    /* scans are noisy and biased (off: scans read the truth) */
    uint8_t fractures;     /* mining can fracture an asteroid */
    uint8_t price_impact;  /* your own sales move the price; slippage on sales */
    uint8_t shocks;        /* rare market shocks */
    uint8_t _pad[2];
} pr_config;

/* One asteroid slot: per-asteroid data quantized to small integers.
 * Hidden truth is generated lazily, the first time a scan or a drill
 * touches the asteroid, from its own RNG stream (order independent). */
typedef struct {
    uint8_t true_comp[PR_N_COMMODITIES]; /* hidden, q/255 */
    uint8_t est_comp[PR_N_COMMODITIES];  /* ship's estimate, q/255 */
    uint16_t richness;                   /* hidden, q/1000 */
    uint16_t depletion;                  /* q/65535; 65535 = spent */
    uint8_t stability;                   /* hidden, q/255 */
    uint8_t noise;                       /* hidden scan noise profile, q/255 */
    uint8_t stab_est;                    /* q/255 */
    uint8_t conf;                        /* scan confidence, q/255 */
    uint8_t surface;                     /* hidden commodity a shallow scan is fooled toward */
    uint8_t flags;                       /* PR_AST_* */
} pr_asteroid;

enum { PR_AST_VALID = 1, PR_AST_TRUTH = 2 };

typedef struct {
    uint8_t type;
    uint8_t n_asteroids;
    uint8_t degree;
    uint8_t hops;                          /* shortest path to the station */
    uint8_t neighbor[PR_MAX_NEIGHBORS];
    uint8_t travel_time[PR_MAX_NEIGHBORS]; /* ticks, 2..12 */
    uint8_t x, y;                          /* map position, for drawing and distances */
    uint8_t pirate;                        /* hidden intensity, q/255 */
    uint8_t hazard;                        /* hidden intensity, q/255 */
    uint8_t threat_est;                    /* ship's estimate of (pirate+hazard) threat, q/255 */
    uint8_t visited;
} pr_node;

typedef struct {
    double price[PR_N_COMMODITIES];
    double prev_price[PR_N_COMMODITIES];
    double base[PR_N_COMMODITIES];        /* this episode's base price */
    double amp[PR_N_COMMODITIES];         /* demand cycle amplitude (fraction of base) */
    double cyc_sin[PR_N_COMMODITIES];     /* demand cycle, kept as a rotating unit vector */
    double cyc_cos[PR_N_COMMODITIES];
    double rot_sin[PR_N_COMMODITIES];     /* rotation per tick */
    double rot_cos[PR_N_COMMODITIES];
    double inventory[PR_N_COMMODITIES];   /* station inventory (units) */
    double inv_target[PR_N_COMMODITIES];
    double inv_impact[PR_N_COMMODITIES];  /* T_IMPACT_INVENTORY / inv_target */
    double recent_sales[PR_N_COMMODITIES];
    double shock[PR_N_COMMODITIES];       /* fraction of base, decays */
} pr_market;

typedef struct {
    double fuel, hull, heat, tool, alert, credits;
    double cargo[PR_N_COMMODITIES];       /* units held (raw + refined) */
    double refined[PR_N_COMMODITIES];     /* refined part of cargo: worth more per unit */
    int32_t repair_kits, stabilizers, decoys;
    int32_t escape_ticks;                 /* emergency-burn buff */
} pr_ship;

/* What the last step did, for people (render snapshot, replays). */
typedef struct {
    uint32_t flags;                       /* PR_EV_* */
    int32_t action;                       /* as requested (may be out of range) */
    int32_t applied_action;               /* what ran: action, or HOLD when invalid */
    int32_t dt;
    int32_t travel_from, travel_to;
    int32_t scan_kind;                    /* 0 none, 1 wide, 2 focused, 3 deep */
    int32_t sale_commodity;
    double sale_units, sale_revenue;
    double purchase_cost;
    double mined_units;
    double fracture_damage, overheat_damage, hazard_damage, pirate_damage;
    double pirate_loss;                   /* cargo value taken */
    double reward;
} pr_events;

/* Running counters of the current episode. */
typedef struct {
    double episode_return;
    double start_credits;
    double overheat_ticks, pirate_encounters, value_lost_to_pirates;
    double fuel_used, hull_damage, tool_wear;
    double scan_count, mining_ticks, invalid_actions;
    double cargo_util_sum, cargo_util_count;
    int32_t steps;
    int32_t destroyed, stranded;
    int32_t _pad;
} pr_counters;

/* One env: the whole state, POD, saved and restored as bytes. */
typedef struct {
    pr_config config;
    uint64_t seed;                         /* this episode's seed */
    uint64_t rng;                          /* episode RNG state */
    uint64_t world_seed;                   /* seeds the lazy asteroid truth */
    int32_t t;                             /* ticks elapsed */
    int32_t time_remaining;
    int32_t n_nodes;
    int32_t current_node;
    int32_t selected;                      /* asteroid slot at current node, -1 none */
    int32_t stab_node, stab_ast, stab_until; /* one stabilized asteroid at a time */
    int32_t done;                          /* 0 running, 1 terminated, 2 truncated */
    int32_t _pad;
    pr_ship ship;
    pr_market market;
    pr_counters counters;
    pr_events events;
    /* derived from the state above, cached to save work each step
     * (recomputed after reset, step and restore) */
    uint8_t mask[PR_N_ACTIONS];            /* validity of every action now */
    uint8_t _pad2[3];
    float credits_obs;                     /* observation 7 */
    float field_obs[PR_MAX_ASTEROIDS * 11]; /* observations 68..243 */
    pr_node nodes[PR_MAX_NODES];
    pr_asteroid asteroids[PR_MAX_NODES][PR_MAX_ASTEROIDS];
} pr_env;

/* Default config: the full game, shaped reward, TIME_MAX 20000. */
pr_config pr_default_config(void);

/* ---- single env ---------------------------------------------------------- */
void pr_reset(pr_env *env, const pr_config *config, uint64_t seed);
/* One decision. Any int is accepted: out of range means invalid (HOLD).
 * Returns the reward; sets *terminated / *truncated. Does not auto-reset. */
double pr_step(pr_env *env, int32_t action, int *terminated, int *truncated);
void pr_observe(const pr_env *env, float *obs /* [PR_OBS_DIM] */);
void pr_action_mask(const pr_env *env, uint8_t *mask /* [PR_N_ACTIONS] */);
int pr_action_valid(const pr_env *env, int32_t action);
/* Episode metrics of the env as it stands (final values once it has ended). */
void pr_episode_metrics(const pr_env *env, double *out /* [PR_N_METRICS] */);
/* Next seed of an env's seed sequence (used by auto-reset): 0..PR_SEED_MAX.
 * pr_reset takes any 64-bit seed; the seeds the engine draws itself stay
 * under 2^53, so that every JSON reader (JavaScript's numbers) holds them
 * exactly, and the API takes exactly this range on every transport. */
#define PR_SEED_MAX 9007199254740991ULL /* 2^53 - 1 */
uint64_t pr_next_seed(uint64_t seed);

/* ---- save / restore ------------------------------------------------------ */
/* Saved bytes: 16-byte header (magic, spec version, state size, CRC-32)
 * followed by the raw pr_env. */
#define PR_SAVE_HEADER 16
uint64_t pr_save_size(void);
uint64_t pr_save(const pr_env *env, uint8_t *out, uint64_t cap);
/* Returns 0 on success or a negative PR_ERR_* code; env is untouched on error. */
int pr_restore(pr_env *env, const uint8_t *buf, uint64_t len);
enum {
    PR_ERR_TRUNCATED = -1,
    PR_ERR_MAGIC = -2,
    PR_ERR_VERSION = -3,
    PR_ERR_SIZE = -4,
    PR_ERR_CHECKSUM = -5,
    PR_ERR_INVALID_STATE = -6
};
const char *pr_error_string(int code);

/* ---- render snapshot ----------------------------------------------------- */
typedef struct {
    int32_t n_nodes, current_node, selected, t, time_remaining, time_max;
    int32_t done;
    uint8_t node_type[PR_MAX_NODES];
    uint8_t node_x[PR_MAX_NODES], node_y[PR_MAX_NODES];
    uint8_t node_degree[PR_MAX_NODES];
    uint8_t node_visited[PR_MAX_NODES];
    uint8_t node_hops[PR_MAX_NODES];
    uint8_t node_neighbor[PR_MAX_NODES][PR_MAX_NEIGHBORS];
    uint8_t node_travel_time[PR_MAX_NODES][PR_MAX_NEIGHBORS];
    float node_threat_est[PR_MAX_NODES];
    int32_t n_asteroids;                   /* at the current node */
    uint8_t ast_valid[PR_MAX_ASTEROIDS];
    float ast_comp[PR_MAX_ASTEROIDS][PR_N_COMMODITIES];
    float ast_stability[PR_MAX_ASTEROIDS];
    float ast_depletion[PR_MAX_ASTEROIDS];
    float ast_confidence[PR_MAX_ASTEROIDS];
    double fuel, hull, heat, tool, alert, credits;
    double cargo[PR_N_COMMODITIES], refined[PR_N_COMMODITIES];
    int32_t repair_kits, stabilizers, decoys, escape_ticks;
    double price[PR_N_COMMODITIES], prev_price[PR_N_COMMODITIES];
    double inventory[PR_N_COMMODITIES];
    double cargo_value;
    uint8_t mask[PR_N_ACTIONS];
    pr_events events;
    double metrics[PR_N_METRICS];
} pr_render;

void pr_render_snapshot(const pr_env *env, pr_render *out);

/* ---- render state as JSON (render_json.c) -------------------------------- */
/* The names the JSON render state spells out: plain identifiers (no quotes
 * or escapes needed). spec.py is their home; the bindings pass them in. */
typedef struct {
    const char *commodity[PR_N_COMMODITIES];
    const char *node_type[PR_N_NODE_TYPES];
    const char *reward_mode[2];
    const char *action[PR_N_ACTIONS];
    const char *event[PR_N_EVENTS];
    const char *metric[PR_N_METRICS];
} pr_json_names;

/* The render snapshot as one JSON object, the same bytes as orjson.dumps of
 * the bindings' Engine.render_state() (a play step's reply without a Python
 * object per number). Returns the length written (no NUL), or -1 if cap is
 * too small; PR_RENDER_JSON_CAP always suffices with spec.py's names. */
#define PR_RENDER_JSON_CAP 32768
int64_t pr_render_json(const pr_env *env, const pr_json_names *names, char *out, int64_t cap);
/* The last step's events alone, as render state's "events" (at most 2 kB). */
int64_t pr_events_json(const pr_env *env, const pr_json_names *names, char *out, int64_t cap);
/* A double as orjson writes it (shortest round-trip digits; null if not
 * finite); out needs room for 32 chars. Returns the chars written (no NUL). */
int pr_json_double(double v, char *out);

/* ---- batched envs -------------------------------------------------------- */
/* N envs in one allocation; buffers belong to the caller and are written in
 * place. step_many auto-resets an env whose episode ended, with the next
 * seed of that env's sequence (its terminal/truncation flag and reward are
 * those of the final step; its observation is the new episode's first).
 * Episode metrics are summed per env in C and read out in bulk. */
typedef struct pr_batch pr_batch;

#define PR_LOG_RING 8  /* per-env ring of recent episode records (for medians) */

/* n_threads <= 1: step on the calling thread only. */
pr_batch *pr_batch_create(int32_t n_envs, const pr_config *config, int32_t n_threads);
void pr_batch_destroy(pr_batch *b);
void pr_batch_set_buffers(pr_batch *b, float *observations, const int32_t *actions,
                          float *rewards, uint8_t *terminals, uint8_t *truncations,
                          uint8_t *action_masks /* may be NULL */);
/* Optional: where step_many writes, for an env whose episode ends, the final
 * observation ([n][PR_OBS_DIM], before the auto-reset overwrites it) and
 * the final episode metrics ([n][PR_N_METRICS]); rows of envs that did not
 * end are left as they were. Either may be NULL (the default: not written).
 * Gymnasium's same-step autoreset hands both back as final_obs / final_info. */
void pr_batch_set_final_buffers(pr_batch *b, float *final_observations, double *final_metrics);
void pr_batch_reset_many(pr_batch *b, const uint64_t *seeds);
void pr_batch_step_many(pr_batch *b);
/* The config of every episode started from now on (by reset_many or an
 * auto-reset); episodes in progress keep theirs. For curricula. */
void pr_batch_set_config(pr_batch *b, const pr_config *config);
int32_t pr_batch_size(const pr_batch *b);
pr_env *pr_batch_env(pr_batch *b, int32_t i);
/* Sums of every metric over the episodes finished since the last read, and
 * up to max_records of those episodes' records ([k][PR_N_METRICS]);
 * returns the episode count and writes the record count. Clears the log. */
int64_t pr_batch_read_log(pr_batch *b, double *sums, double *records,
                          int64_t max_records, int64_t *n_records);

#endif
