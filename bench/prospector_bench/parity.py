"""Parity: the C engine and the pure-Python reference, step by step, bit for bit.

For each seed and workload, one episode runs on both sides with the same
actions (from `random.Random(seed)`):

    random  uniform over 0..68, plus now and then an out-of-range int
            (-1, 69, 1000) to exercise the invalid-action path
    long    uniform over the valid actions (mask) except CASH_OUT: longer
            episodes through mining, scans, trading, pirates and hazards
            (they mostly end stranded)
    miner   opt-in (`--workload miner` / `all`): a crude mining policy that
            reaches overheat, full holds, overhauls and time-ups, episodes
            of up to ~18000 steps (slow: 0:500 is ~6.6M steps, ~4 min on 2 CPUs)

`--workload both` (the default) is random + long.

Compared after reset and after every step: the observation (float32 bytes),
the reward (double bits, and float32 as the batch writes it), terminated,
truncated, the action mask; at the end the episode metrics (double bits),
and that a further step of the finished env is a no-op. A one-env C batch
(pr_batch_step_many) runs alongside, so the batch path (float32 rewards,
auto-reset with pr_next_seed) is checked against the same reference.

The first mismatch of an episode writes a bundle (JSON) with the seed,
workload, config, the divergent step, the actions up to it, both sides'
values, the names of the differing observation indices, and the differing
state fields (ship, market, RNG, counters, nodes, asteroids), then moves on.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import random
import struct
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable

from prospector import spec
from prospector.rollout import random_valid_action, valid_actions
from prospector.spec import EnvConfig, as_config

OUT_OF_RANGE_ACTIONS = (-1, 69, 1000)
OUT_OF_RANGE_RATE = 0.03
DEFAULT_BUNDLE_DIR = Path("runs/parity")

UNWRITTEN_OBS = b"\xff" * (4 * spec.OBS_DIM)  # a NaN in every float

_D = struct.Struct("<d")
_F = struct.Struct("<f")


def obs_index_names() -> list[str]:
    """A name for each of the 260 observation indices (SPEC section 2)."""
    names: list[str] = [""] * spec.OBS_DIM
    ship = ["fuel", "hull", "heat", "tool", "cargo_total", "alert", "time_remaining", "credits"]
    ship += [f"cargo[{c}]" for c in spec.COMMODITIES]
    ship += ["repair_kits", "stabilizers", "decoys", "at_station", "has_selection"]
    ship += [f"node_type[{t}]" for t in spec.NODE_TYPES]
    ship += ["node_index", "hops_to_station"]
    names[: len(ship)] = ship
    for i in range(spec.NEIGHBOR_BASE + spec.NEIGHBOR_STRIDE * spec.MAX_NEIGHBORS, spec.ASTEROID_BASE):
        names[i] = f"neighbor_padding[{i - spec.NEIGHBOR_BASE - spec.NEIGHBOR_STRIDE * spec.MAX_NEIGHBORS}]"
    for k in range(spec.MAX_NEIGHBORS):
        base = spec.NEIGHBOR_BASE + spec.NEIGHBOR_STRIDE * k
        slot = ["valid", *(f"type[{t}]" for t in spec.NODE_TYPES), "travel_time", "fuel_cost", "threat"]
        for i, field in enumerate(slot):
            names[base + i] = f"neighbor[{k}].{field}"
    for a in range(spec.MAX_ASTEROIDS):
        base = spec.ASTEROID_BASE + spec.ASTEROID_STRIDE * a
        slot = ["valid", *(f"composition[{c}]" for c in spec.COMMODITIES), "stability", "depletion",
                "confidence", "selected"]
        for i, field in enumerate(slot):
            names[base + i] = f"asteroid[{a}].{field}"
    for c, name in enumerate(spec.COMMODITIES):
        names[spec.OBS_PRICE.start + c] = f"market.price[{name}]"
        names[spec.OBS_PRICE_CHANGE.start + c] = f"market.price_change[{name}]"
    for i, c in enumerate(spec.OBS_INVENTORY_COMMODITIES):
        names[spec.OBS_INVENTORY.start + i] = f"market.inventory[{spec.COMMODITIES[c]}]"
    return names


OBS_NAMES = obs_index_names()


# ---- actions ------------------------------------------------------------------------
# A policy picks the next action from the episode's random.Random, the action
# mask and the observation (both from the C side; they equal the reference's,
# or the episode has already stopped at a mismatch). Random valid picks are
# prospector.rollout's: rng.choice over the valid actions in action order, so a
# seed draws the same actions as it always has.

NOT_CASH_OUT = (spec.A_CASH_OUT,)  # cashing out ends the episode at once


def random_policy(rng: random.Random, mask: bytes, obs: bytes) -> int:
    """Uniform over 0..68, and now and then an out-of-range int (invalid)."""
    if rng.random() < OUT_OF_RANGE_RATE:
        return rng.choice(OUT_OF_RANGE_ACTIONS)
    return rng.randrange(spec.N_ACTIONS)


def long_policy(rng: random.Random, mask: bytes, obs: bytes) -> int:
    """Uniform over the valid actions except CASH_OUT."""
    return random_valid_action(rng, mask, exclude=NOT_CASH_OUT)


def miner_policy(rng: random.Random, mask: bytes, obs: bytes) -> int:
    """A crude prospector that reaches the deep states random play rarely does:
    mining hot (overheat now and then), full holds, selling, refuelling,
    repairs, and episodes that run out of time. One action in ten is uniform
    over the valid ones (never CASH_OUT)."""
    valid = valid_actions(mask, exclude=NOT_CASH_OUT)
    if rng.random() < 0.1:
        return rng.choice(valid)
    o = struct.unpack(f"<{spec.OBS_DIM}f", obs)
    fuel, heat, hull, cargo = o[spec.OBS_FUEL], o[spec.OBS_HEAT], o[spec.OBS_HULL], o[spec.OBS_CARGO_TOTAL]
    travel = [a for a in valid if a < spec.A_HOLD]
    if o[spec.OBS_AT_STATION] > 0.5:
        for a in range(spec.A_SELL0 + 2, spec.A_SELL0 + 18, 3):  # sell everything
            if mask[a]:
                return a
        if fuel < 0.7 and mask[spec.A_BUY_FUEL0 + 2]:
            return spec.A_BUY_FUEL0 + 2
        if hull < 0.8 and mask[spec.A_OVERHAUL]:
            return spec.A_OVERHAUL
        if o[spec.OBS_REPAIR_KITS] < 0.2 and mask[spec.A_BUY_KIT]:
            return spec.A_BUY_KIT
        return rng.choice(travel) if travel else spec.A_DOCK
    if hull < 0.6 and mask[spec.A_HULL_PATCH]:
        return spec.A_HULL_PATCH
    if fuel < 0.3 or cargo > 0.9 or hull < 0.4:  # head home: the station if adjacent, else wander
        for a in travel:
            if o[spec.NEIGHBOR_BASE + spec.NEIGHBOR_STRIDE * a + 1] > 0.5:  # neighbor type station
                return a
        return rng.choice(travel) if travel else spec.A_HOLD
    if o[spec.OBS_HAS_SELECTION] > 0.5:
        if heat > 0.85:
            return spec.A_COOLDOWN if rng.random() < 0.8 else spec.A_MINE0 + 2
        if o[spec.OBS_TOOL] < 0.4 and mask[spec.A_TOOL_MAINT]:
            return spec.A_TOOL_MAINT
        return spec.A_MINE0 + (2 if heat < 0.5 else 1)
    select = [a for a in valid if spec.A_SELECT0 <= a < spec.A_SELECT0 + spec.MAX_ASTEROIDS]
    if select:
        return rng.choice(select)
    return rng.choice(travel) if travel else spec.A_HOLD


POLICIES = {"random": random_policy, "long": long_policy, "miner": miner_policy}
WORKLOADS = tuple(POLICIES)
DEFAULT_WORKLOADS = ("random", "long")  # `--workload both`


def pick_action(rng: random.Random, workload: str, mask: bytes, obs: bytes | None = None) -> int:
    try:
        policy = POLICIES[workload]
    except KeyError:
        raise ValueError(f"unknown workload {workload!r} (choose from {WORKLOADS})") from None
    return policy(rng, mask, obs)


# ---- state dumps (for bundles) ------------------------------------------------------------


def _flatten_c(cdata, prefix: str, out: dict) -> None:
    from prospector._engine import ffi

    if isinstance(cdata, (int, float)):
        out[prefix] = cdata
        return
    t = ffi.typeof(cdata)
    if t.kind == "struct":
        for name, _field in t.fields:
            if not name.startswith("_"):
                _flatten_c(getattr(cdata, name), f"{prefix}.{name}" if prefix else name, out)
    elif t.kind == "array":
        for i in range(t.length):
            _flatten_c(cdata[i], f"{prefix}[{i}]", out)
    else:
        out[prefix] = cdata


def c_state(env) -> dict:
    """Every field of a C pr_env (pointer), flattened: name -> value."""
    from prospector._engine import ffi

    out: dict = {}
    t = ffi.typeof(env[0])
    for name, field in t.fields:
        if name.startswith("_"):
            continue
        value = getattr(env, name)
        if isinstance(value, (int, float)):
            out[name] = value
        else:
            _flatten_c(value, name, out)
    return out


def _flatten_py(value, prefix: str, out: dict) -> None:
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _flatten_py(getattr(value, f.name), f"{prefix}.{f.name}" if prefix else f.name, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten_py(v, f"{prefix}[{i}]", out)
    elif hasattr(value, "state") and not isinstance(value, (int, float)):  # Rng
        out[prefix] = value.state
    else:
        out[prefix] = value


def reference_state(state) -> dict:
    out: dict = {}
    _flatten_py(state, "", out)
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return repr(float(a)) == repr(float(b))  # tells -0.0 from 0.0, nan == nan
    return a == b


def state_diff(c: dict, ref: dict, limit: int = 200) -> list[dict]:
    diffs = []
    for key in c:
        if key in ref and not _same(c[key], ref[key]):
            diffs.append({"field": key, "c": c[key], "reference": ref[key]})
            if len(diffs) >= limit:
                break
    return diffs


def _ship_summary(flat: dict) -> dict:
    keys = ("t", "time_remaining", "current_node", "selected", "done", "rng", "world_seed")
    out = {k: flat[k] for k in keys if k in flat}
    out.update({k: v for k, v in flat.items() if k.startswith("ship.")})
    return out


# ---- one episode ----------------------------------------------------------------------------


@dataclasses.dataclass
class EpisodeResult:
    seed: int
    workload: str
    steps: int
    ok: bool
    stage: str | None = None       # where the first mismatch was: reset, step, batch, metrics, after_done
    step: int | None = None        # index of the divergent step (0-based; -1 = after reset)
    fields: list | None = None     # what differed
    bundle: str | None = None      # path of the bundle written
    seconds: float = 0.0
    ending: str = ""               # destroyed, stranded, cash_out, time_up, step_limit (or mismatch)
    events: dict = dataclasses.field(default_factory=dict)  # event name -> steps it happened in


def _floats(b: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(b) // 4}f", b))


def _bits(x: float) -> bytes:
    return _D.pack(x)


def _f32(x: float) -> bytes:
    return _F.pack(x)


class _Episode:
    """Both sides of one episode, stepped together."""

    def __init__(self, seed: int, workload: str, config: EnvConfig):
        from prospector._engine import ffi, lib
        from prospector.engine import Batch, config_cdata
        from prospector.reference import ReferenceEnv

        self.ffi, self.lib = ffi, lib
        self.seed, self.workload, self.config = seed, workload, config
        self.cfg = config_cdata(config)
        self.env = ffi.new("pr_env *")
        self.obs = ffi.new("float[]", spec.OBS_DIM)
        self.mask = ffi.new("uint8_t[]", spec.N_ACTIONS)
        self.metrics = ffi.new("double[]", spec.N_METRICS)
        self.term = ffi.new("int *")
        self.trunc = ffi.new("int *")
        self.batch = Batch(1, config)
        self.ref = ReferenceEnv(config, seed=None)
        self.actions: list[int] = []

    def c_obs(self) -> bytes:
        # fill with NaN bytes first, so an index the engine never writes shows up
        self.ffi.memmove(self.obs, UNWRITTEN_OBS, len(UNWRITTEN_OBS))
        self.lib.pr_observe(self.env, self.obs)
        return bytes(self.ffi.buffer(self.obs))

    def c_mask(self) -> bytes:
        self.lib.pr_action_mask(self.env, self.mask)
        return bytes(self.ffi.buffer(self.mask))

    def c_metrics(self) -> list[float]:
        self.lib.pr_episode_metrics(self.env, self.metrics)
        return list(self.metrics)

    def reset(self) -> None:
        self.lib.pr_reset(self.env, self.cfg, self.seed)
        self.ref.reset(self.seed)
        self.batch.observations.fill(math.nan)
        self.batch.reset([self.seed])

    def c_step(self, action: int) -> tuple[float, bool, bool]:
        r = self.lib.pr_step(self.env, action, self.term, self.trunc)
        return r, bool(self.term[0]), bool(self.trunc[0])


def run_episode(seed: int, workload: str, config: EnvConfig | dict | None = None,
                max_steps: int | None = None, bundle_dir: str | os.PathLike | None = None) -> EpisodeResult:
    """One episode on both sides; stops at the first mismatch (writing a bundle
    when bundle_dir is given), at the episode's end, or after max_steps."""
    config = as_config(config)
    t0 = time.perf_counter()
    ep = _Episode(seed, workload, config)
    rng = random.Random(seed)
    ep.reset()

    event_counts = [0] * spec.N_EVENTS

    def fail(stage: str, step: int, fields: list, c: dict, ref: dict, obs=None) -> EpisodeResult:
        result = EpisodeResult(seed, workload, max(step + 1, 0), False, stage, step, [f for f, *_ in fields],
                               ending="mismatch", events=_event_dict(event_counts))
        if bundle_dir is not None:
            result.bundle = str(write_bundle(bundle_dir, ep, stage, step, fields, c, ref, obs))
        result.seconds = time.perf_counter() - t0
        return result

    # after reset
    c_obs, r_obs = ep.c_obs(), ep.ref.observation_bytes()
    c_mask, r_mask = ep.c_mask(), ep.ref.action_mask_bytes()
    b_obs = ep.batch.observations[0].tobytes()
    fields = []
    if c_obs != r_obs:
        fields.append(("observation",))
    if c_mask != r_mask:
        fields.append(("action_mask",))
    if b_obs != c_obs:
        fields.append(("batch_observation",))
    if ep.env.rng != ep.ref.state.rng.state:
        fields.append(("rng",))
    if fields:
        return fail("reset", -1, fields, {"observation": c_obs, "mask": c_mask, "batch_observation": b_obs},
                    {"observation": r_obs, "mask": r_mask}, (c_obs, r_obs))

    steps = 0
    done = False
    while not done and (max_steps is None or steps < max_steps):
        action = pick_action(rng, workload, c_mask, c_obs)
        ep.actions.append(action)
        c_r, c_term, c_trunc = ep.c_step(action)
        r_r, r_term, r_trunc = ep.ref.step_raw(action)
        ep.batch.actions[0] = action
        ep.batch.observations.fill(math.nan)
        ep.batch.step()
        c_obs, r_obs = ep.c_obs(), ep.ref.observation_bytes()
        c_mask, r_mask = ep.c_mask(), ep.ref.action_mask_bytes()
        done = c_term or c_trunc
        flags = ep.ref.state.events.flags
        while flags:
            low = flags & -flags
            event_counts[low.bit_length() - 1] += 1
            flags ^= low

        fields = []
        if c_obs != r_obs:
            fields.append(("observation",))
        if _bits(c_r) != _bits(r_r):
            fields.append(("reward",))
        if _f32(c_r) != _f32(r_r):
            fields.append(("reward_float32",))
        if c_term != r_term:
            fields.append(("terminated",))
        if c_trunc != r_trunc:
            fields.append(("truncated",))
        if c_mask != r_mask:
            fields.append(("action_mask",))
        if fields:
            return fail("step", steps, fields,
                        {"observation": c_obs, "reward": c_r, "terminated": c_term, "truncated": c_trunc,
                         "mask": c_mask},
                        {"observation": r_obs, "reward": r_r, "terminated": r_term, "truncated": r_trunc,
                         "mask": r_mask}, (c_obs, r_obs))

        # the batch path: float32 reward, flags, and (after an auto-reset) the next seed's episode
        b_obs = ep.batch.observations[0].tobytes()
        b_mask = ep.batch.action_masks[0].astype("u1").tobytes()
        b_r = float(ep.batch.rewards[0])
        if done:
            nxt = _next_reference(config, ep.ref.next_seed)
            want_obs, want_mask = nxt.observation_bytes(), nxt.action_mask_bytes()
        else:
            want_obs, want_mask = r_obs, r_mask
        if (_f32(b_r) != _f32(r_r) or bool(ep.batch.terminals[0]) != r_term
                or bool(ep.batch.truncations[0]) != r_trunc or b_obs != want_obs or b_mask != want_mask):
            return fail("batch", steps, [("batch",)],
                        {"observation": b_obs, "reward": b_r, "terminated": bool(ep.batch.terminals[0]),
                         "truncated": bool(ep.batch.truncations[0]), "mask": b_mask},
                        {"observation": want_obs, "reward": r_r, "terminated": r_term, "truncated": r_trunc,
                         "mask": want_mask}, (b_obs, want_obs))
        steps += 1

    c_m, r_m = ep.c_metrics(), ep.ref.episode_metrics()
    if [_bits(x) for x in c_m] != [_bits(x) for x in r_m]:
        return fail("metrics", steps - 1, [("metrics",)], {"metrics": c_m}, {"metrics": r_m})

    if done:  # a finished env's step is a no-op on both sides
        action = pick_action(rng, "random", c_mask, c_obs)
        c_r, c_term, c_trunc = ep.c_step(action)
        r_r, r_term, r_trunc = ep.ref.step_raw(action)
        fields = []
        if (_bits(c_r), c_term, c_trunc) != (_bits(r_r), r_term, r_trunc) or c_r != 0.0:
            fields.append(("after_done_step",))
        if ep.c_obs() != c_obs or ep.ref.observation_bytes() != r_obs:
            fields.append(("after_done_observation",))
        if ep.c_metrics() != c_m or ep.ref.episode_metrics() != r_m:
            fields.append(("after_done_metrics",))
        if fields:
            return fail("after_done", steps, fields,
                        {"reward": c_r, "terminated": c_term, "truncated": c_trunc, "metrics": ep.c_metrics()},
                        {"reward": r_r, "terminated": r_term, "truncated": r_trunc,
                         "metrics": ep.ref.episode_metrics()})

    ending = "step_limit"
    if done:
        ending = "cash_out"
        for name in ("destroyed", "stranded", "time_up"):
            if ep.ref.state.events.flags & spec.EVENT_BITS[name]:
                ending = name
    return EpisodeResult(seed, workload, steps, True, seconds=time.perf_counter() - t0, ending=ending,
                         events=_event_dict(event_counts))


def _event_dict(counts: list[int]) -> dict:
    return {name: n for name, n in zip(spec.EVENT_NAMES, counts) if n}


def _next_reference(config: EnvConfig, seed: int):
    from prospector.reference import ReferenceEnv

    return ReferenceEnv(config, seed=seed)


# ---- bundles ----------------------------------------------------------------------------------


def _jsonable(side: dict) -> dict:
    out = {}
    for k, v in side.items():
        if isinstance(v, bytes):
            out[k] = list(v) if k.endswith("mask") else _floats(v)
        else:
            out[k] = v
    return out


def write_bundle(bundle_dir, ep: _Episode, stage: str, step: int, fields: list, c: dict, ref: dict,
                 obs: tuple[bytes, bytes] | None) -> Path:
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    c_flat, r_flat = c_state(ep.env), reference_state(ep.ref.state)
    doc = {
        "seed": ep.seed,
        "workload": ep.workload,
        "config": ep.config.to_dict(),
        "stage": stage,
        "step": step,
        "differing": [f for f, *_ in fields],
        "actions": list(ep.actions),
        "action_names": [spec.ACTION_NAMES[a] if 0 <= a < spec.N_ACTIONS else f"OUT_OF_RANGE({a})"
                         for a in ep.actions],
        "c": _jsonable(c),
        "reference": _jsonable(ref),
        "observation_diff": [],
        "mask_diff": [],
        "metrics_diff": [],
        "state_diff": state_diff(c_flat, r_flat),
        "c_ship": _ship_summary(c_flat),
        "reference_ship": _ship_summary(r_flat),
        "hint": "state_diff lists pr_env fields (C names) that differ after the step; the field's "
                "system is the file of the same name in core_c/src and bindings/prospector/reference",
    }
    if obs is not None:
        a, b = _floats(obs[0]), _floats(obs[1])
        doc["observation_diff"] = [
            {"index": i, "name": OBS_NAMES[i], "c": x, "reference": y}
            for i, (x, y) in enumerate(zip(a, b)) if _F.pack(x) != _F.pack(y)]
    if "mask" in c and "mask" in ref:
        doc["mask_diff"] = [{"action": i, "name": spec.ACTION_NAMES[i], "c": x, "reference": y}
                            for i, (x, y) in enumerate(zip(c["mask"], ref["mask"])) if x != y]
    if "metrics" in c and "metrics" in ref:
        doc["metrics_diff"] = [{"metric": spec.METRIC_NAMES[i], "c": x, "reference": y}
                               for i, (x, y) in enumerate(zip(c["metrics"], ref["metrics"]))
                               if _D.pack(x) != _D.pack(y)]
    path = bundle_dir / f"parity_{ep.workload}_seed{ep.seed}.json"
    path.write_text(json.dumps(doc, indent=1, default=_json_default) + "\n")
    return path


def _json_default(x):
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, bytes):
        return list(x)
    return str(x)


# ---- many episodes ------------------------------------------------------------------------------


@dataclasses.dataclass
class ParityReport:
    seeds: tuple[int, int]
    workloads: tuple[str, ...]
    config: dict
    results: list[EpisodeResult]
    seconds: float
    jobs: int

    @property
    def episodes(self) -> int:
        return len(self.results)

    @property
    def steps(self) -> int:
        return sum(r.steps for r in self.results)

    @property
    def mismatches(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def to_dict(self) -> dict:
        per = {}
        for w in self.workloads:
            rs = [r for r in self.results if r.workload == w]
            bad = [r for r in rs if not r.ok]
            per[w] = {
                "episodes": len(rs),
                "steps": sum(r.steps for r in rs),
                "mismatches": len(bad),
                "max_episode_steps": max((r.steps for r in rs), default=0),
                "endings": dict(collections.Counter(r.ending for r in rs).most_common()),
                "events": _sum_events(rs),
                "mismatched": [{"seed": r.seed, "stage": r.stage, "step": r.step, "fields": r.fields,
                                "bundle": r.bundle} for r in sorted(bad, key=lambda r: r.seed)],
            }
        return {
            "episodes": self.episodes,
            "steps": self.steps,
            "mismatches": self.mismatches,
            "seeds": f"{self.seeds[0]}:{self.seeds[1]}",
            "config": self.config,
            "seconds": round(self.seconds, 3),
            "jobs": self.jobs,
            "workloads": per,
        }


def _sum_events(results: list[EpisodeResult]) -> dict:
    total: collections.Counter = collections.Counter()
    for r in results:
        total.update(r.events)
    return {name: total[name] for name in spec.EVENT_NAMES if total[name]}


_WORKER: dict = {}


def _init_worker(config: dict, max_steps, bundle_dir) -> None:
    _WORKER.update(config=config, max_steps=max_steps, bundle_dir=bundle_dir)


def _worker_task(task: tuple[str, int]) -> EpisodeResult:
    workload, seed = task
    return run_episode(seed, workload, _WORKER["config"], _WORKER["max_steps"], _WORKER["bundle_dir"])


def run_parity(seeds: Iterable[int], workloads: Iterable[str] = DEFAULT_WORKLOADS,
               config: EnvConfig | dict | None = None, max_steps: int | None = None,
               bundle_dir: str | os.PathLike | None = DEFAULT_BUNDLE_DIR, jobs: int = 1,
               on_episode: Callable[[EpisodeResult], None] | None = None) -> ParityReport:
    """Every (workload, seed) episode; jobs > 1 spreads them over processes.
    on_episode is called (in this process) as each episode finishes."""
    seeds = list(seeds)
    workloads = tuple(workloads)
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r} (choose from {WORKLOADS})")
    config = as_config(config)
    # long episodes first, so the slow tail starts early
    tasks = [(w, s) for w in sorted(workloads, key=lambda w: w != "long") for s in seeds]
    bundle = str(bundle_dir) if bundle_dir is not None else None
    t0 = time.perf_counter()
    results: list[EpisodeResult] = []
    if jobs <= 1 or len(tasks) <= 1:
        for w, s in tasks:
            r = run_episode(s, w, config, max_steps, bundle)
            results.append(r)
            if on_episode:
                on_episode(r)
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(config.to_dict(), max_steps, bundle)) as pool:
            futures = [pool.submit(_worker_task, t) for t in tasks]
            for f in as_completed(futures):
                r = f.result()
                results.append(r)
                if on_episode:
                    on_episode(r)
    results.sort(key=lambda r: (workloads.index(r.workload), r.seed))
    lo = min(seeds) if seeds else 0
    hi = max(seeds) + 1 if seeds else 0
    return ParityReport((lo, hi), workloads, config.to_dict(), results, time.perf_counter() - t0, max(1, jobs))


# ---- command line ------------------------------------------------------------------------------


def parse_seeds(text: str) -> range:
    """'A:B' (A included, B not) or a single seed 'A'."""
    try:
        if ":" in text:
            a, b = text.split(":", 1)
            lo, hi = int(a), int(b)
        else:
            lo = int(text)
            hi = lo + 1
    except ValueError:
        raise ValueError(f"--seeds must be A:B or A, got {text!r}") from None
    if lo < 0 or hi < lo:
        raise ValueError(f"--seeds must satisfy 0 <= A <= B, got {text!r}")
    return range(lo, hi)


def parse_config(text: str | None) -> EnvConfig:
    """A JSON object, or the path of a JSON file holding one (EnvConfig fields)."""
    if text is None:
        return EnvConfig()
    p = Path(text)
    raw = p.read_text() if p.is_file() else text
    try:
        d = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--config is neither a JSON file nor JSON: {exc}") from None
    if not isinstance(d, dict):
        raise ValueError("--config must be a JSON object of EnvConfig fields")
    return EnvConfig.from_dict(d)


def main(args) -> int:
    """`prospector parity` (args from cli.py). Exit code 1 on any mismatch."""
    seeds = parse_seeds(args.seeds)
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    config = parse_config(args.config)
    workloads = {"both": DEFAULT_WORKLOADS, "all": WORKLOADS}.get(args.workload, (args.workload,))
    jobs = args.jobs if args.jobs is not None else min(2, os.cpu_count() or 1)
    bundle_dir = Path(args.bundle_dir)

    if args.json:
        report = run_parity(seeds, workloads, config, args.steps, bundle_dir, jobs)
        print(json.dumps(report.to_dict()))
        return 0 if report.ok else 1

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(soft_wrap=True)
    remaining = {s: len(workloads) for s in seeds}
    mismatches = 0
    with Progress(TextColumn("parity"), BarColumn(), MofNCompleteColumn(), TextColumn("seeds"),
                  TextColumn("[red]{task.fields[bad]} mismatched"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        bar = progress.add_task("seeds", total=len(seeds), bad=0)

        def on_episode(r: EpisodeResult) -> None:
            nonlocal mismatches
            if not r.ok:
                mismatches += 1
                progress.console.print(f"[red]mismatch[/red] seed {r.seed} {r.workload}: {r.stage}, step "
                                       f"{r.step} ({', '.join(r.fields or [])}) -> {r.bundle}")
            remaining[r.seed] -= 1
            if remaining[r.seed] == 0:
                progress.update(bar, advance=1, bad=mismatches)

        report = run_parity(seeds, workloads, config, args.steps, bundle_dir, jobs, on_episode)

    d = report.to_dict()
    for w, s in d["workloads"].items():
        endings = ", ".join(f"{k} {v}" for k, v in s["endings"].items())
        console.print(f"{w:>6}: {s['episodes']} episodes, {s['steps']} steps "
                      f"(longest {s['max_episode_steps']}), {s['mismatches']} mismatches; endings: {endings}")
    verdict = "[green]PARITY OK[/green]" if report.ok else f"[red]{report.mismatches} MISMATCHES[/red]"
    console.print(f"{verdict}: {d['episodes']} episodes, {d['steps']} steps, seeds {d['seeds']}, "
                  f"{d['seconds']:.1f} s on {jobs} process(es)")
    return 0 if report.ok else 1
