"""One env's whole state, mirrored from the structs of core_c/include/prospector.h.

Field for field the same as `pr_env` and its parts, with the same quantized
integers where C keeps small integers: composition, stability, noise,
confidence and threat estimates are uint8 q/255, depletion is uint16
q/65535 (65535 = spent), richness is uint16 q/1000. C's fixed arrays are
Python lists of the same length. `reset` (step.py) starts from a fresh
`Env()`, the mirror of C's memset to zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prospector import spec

from .rng import Rng

# ---- prospector.h constants ------------------------------------------------------

N_COMMODITIES = spec.N_COMMODITIES
MAX_NODES = spec.MAX_NODES
MAX_NEIGHBORS = spec.MAX_NEIGHBORS
MAX_ASTEROIDS = spec.MAX_ASTEROIDS
OBS_DIM = spec.OBS_DIM
N_ACTIONS = spec.N_ACTIONS

FUEL_MAX = spec.FUEL_MAX
HULL_MAX = spec.HULL_MAX
HEAT_MAX = spec.HEAT_MAX
TOOL_MAX = spec.TOOL_MAX
ALERT_MAX = spec.ALERT_MAX
CARGO_MAX = spec.CARGO_MAX
CREDIT_SCALE = spec.CREDIT_SCALE

NODE_STATION, NODE_CLUSTER, NODE_HAZARD = spec.NODE_STATION, spec.NODE_CLUSTER, spec.NODE_HAZARD
REWARD_SHAPED, REWARD_SPARSE = spec.REWARD_SHAPED, spec.REWARD_SPARSE

# PR_EV_* bits
EV_TRAVEL = 1 << 0
EV_SCAN = 1 << 1
EV_MINE = 1 << 2
EV_FRACTURE = 1 << 3
EV_OVERHEAT = 1 << 4
EV_HAZARD = 1 << 5
EV_PIRATE = 1 << 6
EV_DECOY_USED = 1 << 7
EV_DOCK = 1 << 8
EV_SALE = 1 << 9
EV_PURCHASE = 1 << 10
EV_REPAIR = 1 << 11
EV_JETTISON = 1 << 12
EV_REFINE = 1 << 13
EV_SHOCK = 1 << 14
EV_INVALID = 1 << 15
EV_DESTROYED = 1 << 16
EV_STRANDED = 1 << 17
EV_CASH_OUT = 1 << 18
EV_TIME_UP = 1 << 19

# PR_AST_* flags
AST_VALID = 1
AST_TRUTH = 2

DEPLETION_SPENT = 65535


def _zeros(n: int, value=0):
    return field(default_factory=lambda: [value] * n)


@dataclass(slots=True)
class Config:
    """pr_config: time budget, reward mode, curriculum switches (0/1)."""

    time_max: int = spec.TIME_MAX_DEFAULT
    reward_mode: int = REWARD_SHAPED
    pirates: int = 1
    hazards: int = 1
    scan_noise: int = 1
    fractures: int = 1
    price_impact: int = 1
    shocks: int = 1

    @classmethod
    def from_env_config(cls, cfg: spec.EnvConfig) -> Config:
        return cls(time_max=cfg.time_max, reward_mode=cfg.reward_mode_index,
                   **{name: int(getattr(cfg, name)) for name in spec.SWITCHES})


@dataclass(slots=True)
class Asteroid:
    """pr_asteroid: per-asteroid data as small integers."""

    true_comp: list = _zeros(N_COMMODITIES)  # hidden, q/255
    est_comp: list = _zeros(N_COMMODITIES)   # ship's estimate, q/255
    richness: int = 0                        # hidden, q/1000
    depletion: int = 0                       # q/65535; 65535 = spent
    stability: int = 0                       # hidden, q/255
    noise: int = 0                           # hidden scan noise profile, q/255
    stab_est: int = 0                        # q/255
    conf: int = 0                            # scan confidence, q/255
    surface: int = 0                         # hidden commodity a shallow scan is fooled toward
    flags: int = 0                           # AST_*


@dataclass(slots=True)
class Node:
    """pr_node."""

    type: int = NODE_STATION
    n_asteroids: int = 0
    degree: int = 0
    hops: int = 0                            # shortest path to the station
    neighbor: list = _zeros(MAX_NEIGHBORS)
    travel_time: list = _zeros(MAX_NEIGHBORS)  # ticks, 2..12
    x: int = 0
    y: int = 0
    pirate: int = 0                          # hidden intensity, q/255
    hazard: int = 0                          # hidden intensity, q/255
    threat_est: int = 0                      # ship's estimate, q/255
    visited: int = 0


@dataclass(slots=True)
class Market:
    """pr_market: doubles, one per commodity."""

    price: list = _zeros(N_COMMODITIES, 0.0)
    prev_price: list = _zeros(N_COMMODITIES, 0.0)
    base: list = _zeros(N_COMMODITIES, 0.0)
    amp: list = _zeros(N_COMMODITIES, 0.0)
    cyc_sin: list = _zeros(N_COMMODITIES, 0.0)
    cyc_cos: list = _zeros(N_COMMODITIES, 0.0)
    rot_sin: list = _zeros(N_COMMODITIES, 0.0)
    rot_cos: list = _zeros(N_COMMODITIES, 0.0)
    inventory: list = _zeros(N_COMMODITIES, 0.0)
    inv_target: list = _zeros(N_COMMODITIES, 0.0)
    inv_impact: list = _zeros(N_COMMODITIES, 0.0)
    recent_sales: list = _zeros(N_COMMODITIES, 0.0)
    shock: list = _zeros(N_COMMODITIES, 0.0)


@dataclass(slots=True)
class Ship:
    """pr_ship."""

    fuel: float = 0.0
    hull: float = 0.0
    heat: float = 0.0
    tool: float = 0.0
    alert: float = 0.0
    credits: float = 0.0
    cargo: list = _zeros(N_COMMODITIES, 0.0)    # units held (raw + refined)
    refined: list = _zeros(N_COMMODITIES, 0.0)  # refined part of cargo
    repair_kits: int = 0
    stabilizers: int = 0
    decoys: int = 0
    escape_ticks: int = 0                        # emergency-burn buff


@dataclass(slots=True)
class Events:
    """pr_events: what the last step did."""

    flags: int = 0
    action: int = 0
    applied_action: int = 0
    dt: int = 0
    travel_from: int = 0
    travel_to: int = 0
    scan_kind: int = 0  # 0 none, 1 wide, 2 focused, 3 deep
    sale_commodity: int = 0
    sale_units: float = 0.0
    sale_revenue: float = 0.0
    purchase_cost: float = 0.0
    mined_units: float = 0.0
    fracture_damage: float = 0.0
    overheat_damage: float = 0.0
    hazard_damage: float = 0.0
    pirate_damage: float = 0.0
    pirate_loss: float = 0.0
    reward: float = 0.0


@dataclass(slots=True)
class Counters:
    """pr_counters: running sums of the episode."""

    episode_return: float = 0.0
    start_credits: float = 0.0
    overheat_ticks: float = 0.0
    pirate_encounters: float = 0.0
    value_lost_to_pirates: float = 0.0
    fuel_used: float = 0.0
    hull_damage: float = 0.0
    tool_wear: float = 0.0
    scan_count: float = 0.0
    mining_ticks: float = 0.0
    invalid_actions: float = 0.0
    cargo_util_sum: float = 0.0
    cargo_util_count: float = 0.0
    steps: int = 0
    destroyed: int = 0
    stranded: int = 0


@dataclass(slots=True)
class Env:
    """pr_env: one env, the whole state."""

    config: Config = field(default_factory=Config)
    seed: int = 0                 # this episode's seed
    rng: Rng = field(default_factory=Rng)  # episode RNG state
    world_seed: int = 0           # seeds the lazy asteroid truth
    t: int = 0                    # ticks elapsed
    time_remaining: int = 0
    n_nodes: int = 0
    current_node: int = 0
    selected: int = 0             # asteroid slot at current node, -1 none
    stab_node: int = 0            # one stabilized asteroid at a time
    stab_ast: int = 0
    stab_until: int = 0
    done: int = 0                 # 0 running, 1 terminated, 2 truncated
    ship: Ship = field(default_factory=Ship)
    market: Market = field(default_factory=Market)
    counters: Counters = field(default_factory=Counters)
    events: Events = field(default_factory=Events)
    # derived, cached (refresh_derived in observe.py)
    mask: list = _zeros(N_ACTIONS)
    credits_obs: float = 0.0      # observation 7, already rounded to float32
    nodes: list = field(default_factory=lambda: [Node() for _ in range(MAX_NODES)])
    asteroids: list = field(
        default_factory=lambda: [[Asteroid() for _ in range(MAX_ASTEROIDS)] for _ in range(MAX_NODES)])
