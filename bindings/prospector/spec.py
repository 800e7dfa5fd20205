"""The spec constants of Asteroid Belt Prospector, in one place.

Everything in Python imports these names from here: the engine bindings, the
PufferLib and Gymnasium envs, the pure-Python reference, the bots, the
services. The values are those of /work/shared/SPEC.md and of
core_c/include/prospector.h; tests/bindings/test_spec.py checks them against
the compiled engine. This module is pure Python (no engine import), so the
reference env can use it without the C extension.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

SPEC_VERSION = 1

# ---- section 1: constants ------------------------------------------------------

COMMODITIES = ("iron", "nickel", "water_ice", "pge", "rare_isotopes", "volatiles")
N_COMMODITIES = len(COMMODITIES)
IRON, NICKEL, WATER_ICE, PGE, RARE_ISOTOPES, VOLATILES = range(N_COMMODITIES)

MAX_NODES = 32
MAX_NEIGHBORS = 6
MAX_ASTEROIDS = 16

NODE_TYPES = ("station", "cluster", "hazard")
NODE_STATION, NODE_CLUSTER, NODE_HAZARD = range(len(NODE_TYPES))

OBS_DIM = 260
N_ACTIONS = 69

FUEL_MAX = 1000.0
HULL_MAX = 100.0
HEAT_MAX = 100.0
TOOL_MAX = 100.0
ALERT_MAX = 100.0
CARGO_MAX = 200.0
CREDIT_SCALE = 1000.0
TIME_MAX_DEFAULT = 20000

REWARD_MODES = ("shaped", "sparse")
REWARD_SHAPED, REWARD_SPARSE = range(len(REWARD_MODES))

# ---- section 2: observation layout ------------------------------------------------

OBS_SHIP = slice(0, 24)
OBS_NEIGHBORS = slice(24, 68)
OBS_ASTEROIDS = slice(68, 244)
OBS_MARKET = slice(244, 260)

# Ship and episode (absolute indices).
OBS_FUEL = 0
OBS_HULL = 1
OBS_HEAT = 2
OBS_TOOL = 3
OBS_CARGO_TOTAL = 4
OBS_ALERT = 5
OBS_TIME_REMAINING = 6
OBS_CREDITS = 7
OBS_CARGO = slice(8, 14)           # per commodity
OBS_REPAIR_KITS = 14
OBS_STABILIZERS = 15
OBS_DECOYS = 16
OBS_AT_STATION = 17
OBS_HAS_SELECTION = 18
OBS_NODE_TYPE = slice(19, 22)      # one-hot
OBS_NODE_INDEX = 22
OBS_HOPS_TO_STATION = 23

# Neighbor slot k starts at NEIGHBOR_BASE + NEIGHBOR_STRIDE * k; offsets within a slot.
# 6 slots of 7 end at 66: indices 66 and 67 are padding, always 0.
NEIGHBOR_BASE = 24
NEIGHBOR_STRIDE = 7
NB_VALID = 0
NB_TYPE = slice(1, 4)              # one-hot
NB_TRAVEL_TIME = 4
NB_FUEL_COST = 5
NB_THREAT = 6

# Asteroid slot a starts at ASTEROID_BASE + ASTEROID_STRIDE * a; offsets within a slot:
ASTEROID_BASE = 68
ASTEROID_STRIDE = 11
AST_VALID = 0
AST_COMPOSITION = slice(1, 7)      # estimated, per commodity
AST_STABILITY = 7
AST_DEPLETION = 8
AST_CONFIDENCE = 9
AST_SELECTED = 10

# Market (absolute indices).
MARKET_BASE = 244
OBS_PRICE = slice(244, 250)         # per commodity, 0..1
OBS_PRICE_CHANGE = slice(250, 256)  # per commodity, -1..1
OBS_INVENTORY = slice(256, 260)     # for OBS_INVENTORY_COMMODITIES
OBS_INVENTORY_COMMODITIES = (IRON, WATER_ICE, PGE, RARE_ISOTOPES)


def neighbor_slot(k: int) -> slice:
    """The 7 observation floats of neighbor slot k (0..5)."""
    start = NEIGHBOR_BASE + NEIGHBOR_STRIDE * k
    return slice(start, start + NEIGHBOR_STRIDE)


def asteroid_slot(a: int) -> slice:
    """The 11 observation floats of asteroid slot a (0..15)."""
    start = ASTEROID_BASE + ASTEROID_STRIDE * a
    return slice(start, start + ASTEROID_STRIDE)


# ---- section 3: actions --------------------------------------------------------------

A_TRAVEL0 = 0  # 0..5
A_HOLD = 6
A_EMERGENCY_BURN = 7
A_WIDE_SCAN = 8
A_FOCUSED_SCAN = 9
A_DEEP_SCAN = 10
A_LISTEN = 11
A_SELECT0 = 12  # 12..27
A_MINE0 = 28  # 28 conservative, 29 standard, 30 aggressive
A_MINE_CONSERVATIVE, A_MINE_STANDARD, A_MINE_AGGRESSIVE = 28, 29, 30
A_STABILIZE = 31
A_REFINE = 32
A_COOLDOWN = 33
A_TOOL_MAINT = 34
A_HULL_PATCH = 35
A_JETTISON0 = 36  # 36..41
A_DOCK = 42
A_SELL0 = 43  # 43..60: commodity (a-43)//3, bucket (a-43)%3
A_BUY_FUEL0 = 61  # 61..63: small, medium, large
A_BUY_KIT = 64
A_BUY_STABILIZER = 65
A_BUY_DECOY = 66
A_OVERHAUL = 67
A_CASH_OUT = 68

SELL_BUCKETS = (25, 50, 100)  # percent of the units held
FUEL_SIZES = ("small", "medium", "large")
MINE_MODES = ("conservative", "standard", "aggressive")
SCAN_ACTIONS = (A_WIDE_SCAN, A_FOCUSED_SCAN, A_DEEP_SCAN)


def sell_action(commodity: int, bucket: int) -> int:
    """Action index selling bucket (0: 25 %, 1: 50 %, 2: 100 %) of a commodity."""
    return A_SELL0 + 3 * commodity + bucket


def _action_names() -> tuple[str, ...]:
    names = [f"TRAVEL_{k}" for k in range(MAX_NEIGHBORS)]
    names += ["HOLD_DRIFT", "EMERGENCY_BURN", "WIDE_SCAN", "FOCUSED_SCAN", "DEEP_SCAN",
              "PASSIVE_THREAT_LISTEN"]
    names += [f"SELECT_ASTEROID_{a}" for a in range(MAX_ASTEROIDS)]
    names += [f"MINE_{m.upper()}" for m in MINE_MODES]
    names += ["STABILIZE", "REFINE_ONBOARD", "ACTIVE_COOLDOWN", "TOOL_MAINTENANCE", "HULL_PATCH"]
    names += [f"JETTISON_{c.upper()}" for c in COMMODITIES]
    names += ["DOCK"]
    names += [f"SELL_{c.upper()}_{b}" for c in COMMODITIES for b in SELL_BUCKETS]
    names += [f"BUY_FUEL_{s.upper()}" for s in FUEL_SIZES]
    names += ["BUY_REPAIR_KIT", "BUY_STABILIZER", "BUY_DECOY", "FULL_REPAIR_OVERHAUL", "CASH_OUT"]
    return tuple(names)


ACTION_NAMES = _action_names()
ACTION_INDEX = {name: i for i, name in enumerate(ACTION_NAMES)}

ACTION_GROUPS = {
    "navigation": [*range(A_TRAVEL0, A_TRAVEL0 + MAX_NEIGHBORS), A_HOLD, A_EMERGENCY_BURN],
    "sensing": [A_WIDE_SCAN, A_FOCUSED_SCAN, A_DEEP_SCAN, A_LISTEN],
    "mining": [*range(A_SELECT0, A_SELECT0 + MAX_ASTEROIDS), *range(A_MINE0, A_MINE0 + 3), A_STABILIZE],
    "maintenance": [A_REFINE, A_COOLDOWN, A_TOOL_MAINT, A_HULL_PATCH],
    "cargo": list(range(A_JETTISON0, A_JETTISON0 + N_COMMODITIES)),
    "station": [A_DOCK, *range(A_SELL0, A_SELL0 + 3 * N_COMMODITIES),
                *range(A_BUY_FUEL0, A_BUY_FUEL0 + 3), A_BUY_KIT, A_BUY_STABILIZER, A_BUY_DECOY,
                A_OVERHAUL],
    "episode": [A_CASH_OUT],
}
ACTION_GROUP_OF = {a: group for group, actions in ACTION_GROUPS.items() for a in actions}

# ---- section 7: events and episode metrics --------------------------------------------

EVENT_NAMES = (
    "travel", "scan", "mine", "fracture", "overheat", "hazard", "pirate", "decoy_used",
    "dock", "sale", "purchase", "repair", "jettison", "refine", "shock", "invalid",
    "destroyed", "stranded", "cash_out", "time_up",
)
N_EVENTS = len(EVENT_NAMES)
EVENT_BITS = {name: 1 << i for i, name in enumerate(EVENT_NAMES)}


def event_names(flags: int) -> list[str]:
    """Names of the PR_EV_* bits set in flags, in bit order."""
    return [name for i, name in enumerate(EVENT_NAMES) if flags >> i & 1]


METRIC_NAMES = (
    "episode_return", "credits", "net_profit", "profit_per_tick", "survival", "destroyed",
    "stranded", "overheat_ticks", "pirate_encounters", "value_lost_to_pirates", "fuel_used",
    "hull_damage", "tool_wear", "scan_count", "mining_ticks", "cargo_utilization_avg",
    "invalid_actions", "episode_length", "episode_steps",
)
N_METRICS = len(METRIC_NAMES)
METRIC_INDEX = {name: i for i, name in enumerate(METRIC_NAMES)}

# ---- env config -----------------------------------------------------------------------

SWITCHES = ("pirates", "hazards", "scan_noise", "fractures", "price_impact", "shocks")

# Curriculum stage -> switches turned on (stage 5 is the full game).
CURRICULUM = {
    1: (),
    2: ("scan_noise", "fractures"),
    3: ("scan_noise", "fractures", "price_impact"),
    4: ("scan_noise", "fractures", "price_impact", "pirates", "hazards"),
    5: SWITCHES,
}


@dataclass(frozen=True)
class EnvConfig:
    """One env's configuration: time budget, reward mode, curriculum switches.

    The default is the full game with the shaped reward (pr_default_config).
    """

    time_max: int = TIME_MAX_DEFAULT
    reward_mode: str = "shaped"
    pirates: bool = True
    hazards: bool = True
    scan_noise: bool = True
    fractures: bool = True
    price_impact: bool = True
    shocks: bool = True

    def __post_init__(self):
        if isinstance(self.time_max, bool) or not isinstance(self.time_max, int):
            raise TypeError(f"time_max must be an int, got {self.time_max!r}")
        if not 1 <= self.time_max <= 2**31 - 1:
            raise ValueError(f"time_max must be in 1..2**31-1, got {self.time_max}")
        if self.reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {self.reward_mode!r}")
        for name in SWITCHES:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    @classmethod
    def curriculum(cls, stage: int, **overrides) -> EnvConfig:
        """Stage 1: every switch off; 2: + scan_noise, fractures; 3: + price_impact;
        4: + pirates, hazards; 5: + shocks (the full game)."""
        if stage not in CURRICULUM:
            raise ValueError(f"curriculum stage must be 1..5, got {stage!r}")
        on = CURRICULUM[stage]
        return cls(**{name: name in on for name in SWITCHES}, **overrides)

    def to_dict(self) -> dict:
        # every field is a plain int/str/bool: no deep copy (asdict) needed, and
        # render_state() calls this on every recorded frame
        return {name: getattr(self, name) for name in _ENV_CONFIG_FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> EnvConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown EnvConfig keys: {sorted(unknown)}")
        return cls(**d)

    def replace(self, **changes) -> EnvConfig:
        return replace(self, **changes)

    @property
    def reward_mode_index(self) -> int:
        return REWARD_MODES.index(self.reward_mode)


_ENV_CONFIG_FIELDS = tuple(f.name for f in fields(EnvConfig))  # to_dict's keys, looked up once


def curriculum(stage: int, **overrides) -> EnvConfig:
    """EnvConfig of a curriculum stage (1..5); see EnvConfig.curriculum."""
    return EnvConfig.curriculum(stage, **overrides)


def as_config(config: EnvConfig | dict | None) -> EnvConfig:
    """EnvConfig from an EnvConfig, a dict of its fields, or None (the default)."""
    if config is None:
        return EnvConfig()
    if isinstance(config, EnvConfig):
        return config
    if isinstance(config, dict):
        return EnvConfig.from_dict(config)
    raise TypeError(f"config must be an EnvConfig, a dict or None, got {type(config).__name__}")
