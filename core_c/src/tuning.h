/* The game's tuning knobs (SPEC section 5): one place, mirrored by
 * bindings/prospector/reference/tuning.py. Changing a value changes the game
 * (and breaks replays), not the interface. */
#ifndef PR_TUNING_H
#define PR_TUNING_H

/* ---- world ---- */
#define T_MIN_NODES 8
#define T_NODE_RANGE 25                 /* 8..32 nodes */
#define T_HAZARD_NODE_FRACTION 0.22
#define T_TRAVEL_DIST_PER_TICK 26.0     /* map units per travel tick */
#define T_TRAVEL_MIN 2
#define T_TRAVEL_MAX 12
#define T_CLUSTER_AST_MIN 5
#define T_CLUSTER_AST_RANGE 12          /* 5..16 */
#define T_HAZARD_AST_MIN 2
#define T_HAZARD_AST_RANGE 5            /* 2..6 */
#define T_PIRATE_BASE 0.05
#define T_PIRATE_PER_HOP 0.09
#define T_PIRATE_SPREAD 0.45
#define T_PIRATE_HAZARD_BONUS 0.15
#define T_HAZARD_NODE_BASE 0.4
#define T_HAZARD_NODE_SPREAD 0.5
#define T_HAZARD_CLUSTER_SPREAD 0.12
#define T_THREAT_PRIOR_CLUSTER 0.25
#define T_THREAT_PRIOR_HAZARD 0.5

/* ---- asteroids (hidden truth) ---- */
/* composition: weighted Exponential(1) draws normalized (a Dirichlet(1,..)
 * with per-commodity scale), so rare metals are rare. */
static const double T_COMP_WEIGHT_CLUSTER[6] = {1.0, 0.6, 0.8, 0.07, 0.035, 0.5};
static const double T_COMP_WEIGHT_HAZARD[6] = {0.6, 0.5, 0.3, 0.3, 0.18, 0.4};
#define T_RICH_MU_CLUSTER -0.35
#define T_RICH_SIGMA_CLUSTER 0.85
#define T_RICH_MU_HAZARD 0.35
#define T_RICH_SIGMA_HAZARD 0.95
#define T_RICH_MIN 0.05
#define T_RICH_MAX 20.0
#define T_STAB_A_CLUSTER 4              /* Beta(a, b) with integer shapes */
#define T_STAB_B_CLUSTER 2
#define T_STAB_A_HAZARD 2
#define T_STAB_B_HAZARD 3
#define T_NOISE_BASE_CLUSTER 0.1
#define T_NOISE_SPREAD_CLUSTER 0.5
#define T_NOISE_BASE_HAZARD 0.3
#define T_NOISE_SPREAD_HAZARD 0.6
#define T_PRIOR_COMP (1.0 / 6.0)
#define T_PRIOR_STAB 0.5
#define T_PRIOR_CONF 0.1

/* ---- ship start ---- */
#define T_START_CREDITS 450.0
#define T_START_CREDITS_SPREAD 100.0
#define T_START_KITS 2
#define T_START_STABILIZERS 1
#define T_START_DECOYS 1
#define T_ITEM_CAP 99

/* ---- passive dynamics ---- */
#define T_HEAT_DISS 1.2
#define T_HEAT_DISS_STATION 3.0
#define T_HOLD_COOL 1.0
#define T_ALERT_DECAY 0.25
#define T_ALERT_DECAY_STATION 2.0
#define T_HOLD_ALERT_DECAY 1.0
#define T_OVERHEAT_THRESHOLD 70.0
#define T_OVERHEAT_DAMAGE 0.5           /* hull per heat unit above HEAT_MAX */

/* ---- travel ---- */
#define T_FUEL_PER_TICK 2.0             /* fuel = 2 * tt * (1 + cargo/CARGO_MAX) */
#define T_FUEL_COST_MAX 48.0            /* 2 * 12 * 2, for the observation */
#define T_TRAVEL_ALERT 0.5

/* ---- actions ---- */
#define T_BURN_FUEL 30.0
#define T_BURN_TICKS 20
#define T_BURN_ALERT 10.0
#define T_COOLDOWN_HEAT 30.0
#define T_COOLDOWN_FUEL 3.0
#define T_COOLDOWN_ALERT 4.0
#define T_TOOL_MAINT_GAIN 35.0
#define T_TOOL_MAINT_TICKS 4
#define T_HULL_PATCH_GAIN 25.0
#define T_HULL_PATCH_TICKS 4
#define T_STABILIZE_TICKS 2
#define T_STABILIZE_DURATION 80
#define T_REFINE_BATCH 20.0
#define T_REFINE_KEEP 0.7               /* refined volume per raw unit */
#define T_REFINED_BONUS 0.6             /* a refined unit sells for 1.6 raw units */
#define T_REFINE_HEAT 6.0
#define T_REFINE_FUEL 2.0
#define T_REFINE_ALERT 3.0
#define T_REFINE_TICKS 3
#define T_LISTEN_TICKS 2
#define T_LISTEN_GAIN 0.6
#define T_LISTEN_NOISE 0.1
#define T_THREAT_PIRATE_W 0.7
#define T_THREAT_HAZARD_W 0.5

/* ---- scans: weight toward the reading, noise, bias toward the surface
 * commodity (x noise profile), confidence gain and cap, time, fuel, alert */
#define T_WIDE_W 0.5
#define T_WIDE_NOISE 0.25
#define T_WIDE_BIAS 0.6
#define T_WIDE_GAIN 0.15
#define T_WIDE_CAP 0.5
#define T_WIDE_TICKS 2
#define T_WIDE_FUEL 1.0
#define T_WIDE_ALERT 2.0
#define T_FOCUS_W 0.7
#define T_FOCUS_NOISE 0.12
#define T_FOCUS_BIAS 0.15
#define T_FOCUS_GAIN 0.3
#define T_FOCUS_CAP 0.85
#define T_FOCUS_TICKS 3
#define T_FOCUS_FUEL 3.0
#define T_FOCUS_ALERT 3.0
#define T_DEEP_W 0.95
#define T_DEEP_NOISE 0.02
#define T_DEEP_BIAS 0.0
#define T_DEEP_GAIN 1.0
#define T_DEEP_CAP 0.98
#define T_DEEP_TICKS 10
#define T_DEEP_FUEL 8.0
#define T_DEEP_ALERT 8.0

/* ---- mining: conservative, standard, aggressive ---- */
#define T_MINE_RATE 0.5                 /* units per tick at richness 1 */
static const double T_MINE_MULT[3] = {0.6, 1.0, 1.7};
static const double T_MINE_SIGMA[3] = {0.15, 0.3, 0.5};
static const double T_MINE_HEAT[3] = {2.0, 4.0, 8.5};
static const double T_MINE_WEAR[3] = {0.04, 0.1, 0.3};
static const double T_MINE_ALERT[3] = {0.2, 0.5, 1.5};
#define T_DEPLETION_CAPACITY 120.0      /* units per richness before spent */
#define T_DEPLETION_FLOOR 20.0
#define T_HEAT_EFF_SPAN 30.0
#define T_HEAT_EFF_DROP 0.9
#define T_FRACTURE_BASE -8.0
static const double T_FRACTURE_MODE[3] = {0.0, 0.8, 2.0};
#define T_FRACTURE_INSTABILITY 3.5
#define T_FRACTURE_HEAT 3.0
#define T_FRACTURE_WEAR 2.0
#define T_FRACTURE_STABILIZED 2.5
#define T_FRACTURE_DAMAGE 5.0
#define T_FRACTURE_DAMAGE_SPREAD 10.0

/* ---- threats ---- */
#define T_HAZARD_RATE 0.03
#define T_HAZARD_DAMAGE 2.0
#define T_HAZARD_DAMAGE_SPREAD 8.0
/* encounter chance per tick, a product of risk factors (no libm: this runs
 * every step away from the station):
 * RATE * (FLOOR + intensity) * (1 + ALERT * alert/ALERT_MAX)
 *      * (1 + CARGO * sqrt(cargo value / 1000)) * (ESCAPE if escaping) */
#define T_PIRATE_RATE 0.0015
#define T_PIRATE_FLOOR 0.1
#define T_PIRATE_ALERT_FACTOR 3.0
#define T_PIRATE_CARGO_FACTOR 0.8
#define T_PIRATE_ESCAPE_FACTOR 0.1
#define T_PIRATE_ALERT 15.0
#define T_PIRATE_LOSS 0.25
#define T_PIRATE_LOSS_SPREAD 0.35
#define T_PIRATE_DAMAGE 8.0
#define T_PIRATE_DAMAGE_SPREAD 20.0
#define T_DECOY_LOSS 0.05
#define T_DECOY_DAMAGE 1.0

/* ---- market ---- */
static const double T_PRICE_NOMINAL[6] = {10.0, 16.0, 12.0, 150.0, 200.0, 24.0};
#define T_PRICE_REGIME 0.4              /* base = nominal * (0.8 + 0.4 u) */
#define T_PRICE_AMP 0.08
#define T_PRICE_AMP_SPREAD 0.14
#define T_PRICE_PERIOD 400.0
#define T_PRICE_PERIOD_SPREAD 1600.0
#define T_INV_TARGET 60.0
#define T_INV_TARGET_SPREAD 80.0
#define T_INV_RELAX 0.995               /* per tick toward target */
#define T_SALES_DECAY 0.99              /* per tick */
#define T_SHOCK_DECAY 0.998             /* per tick */
#define T_IMPACT_INVENTORY 0.35
#define T_IMPACT_SALES 0.003
#define T_SLIPPAGE_HALF 400.0           /* slip = q / (q + half) */
#define T_SHOCK_RATE 0.0004             /* per tick */
#define T_SHOCK_SIZE 0.25
#define T_SHOCK_SIZE_SPREAD 0.35
#define T_PRICE_FACTOR_MIN 0.25
#define T_PRICE_FACTOR_MAX 2.5
#define T_PRICE_OBS_SCALE 3.0           /* obs price = price / (3 * nominal) */
#define T_PRICE_DELTA_SCALE 0.1         /* obs change = dprice / (0.1 * nominal) */
#define T_INVENTORY_OBS_MAX 400.0

/* ---- station ---- */
static const double T_FUEL_AMOUNT[3] = {100.0, 300.0, 600.0};
static const double T_FUEL_COST[3] = {30.0, 85.0, 160.0};
#define T_KIT_COST 60.0
#define T_STABILIZER_COST 80.0
#define T_DECOY_COST 90.0
#define T_OVERHAUL_BASE 50.0
#define T_OVERHAUL_HULL 3.0
#define T_OVERHAUL_TOOL 2.0
#define T_OVERHAUL_TICKS 8
#define T_DOCK_ALERT_KEEP 0.1
#define T_DOCK_COOL 25.0
#define T_DOCK_TICKS 2
static const double T_SELL_FRACTION[3] = {0.25, 0.5, 1.0};

#endif
