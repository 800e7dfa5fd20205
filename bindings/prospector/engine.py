"""Thin Pythonic wrappers over the C engine (prospector._engine, cffi API mode).

`Engine` is one env (a pr_env allocated by cffi): for people, replays, the API,
save/restore. `Batch` is N envs stepped in place in C (pr_batch) into numpy
buffers it owns or that the caller hands it (PufferLib's own, zero copy).

The engine accepts any int32 action: out of range means invalid (HOLD plus the
invalid-action penalty). These wrappers keep that contract; the Gymnasium env
is the layer that rejects malformed actions.
"""

from __future__ import annotations

import operator
import os
import struct

import numpy as np

from prospector import spec
from prospector._engine import ffi, lib
from prospector.spec import EnvConfig, as_config

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def config_cdata(config: EnvConfig | dict | None):
    """A new `pr_config *` holding the given config."""
    cfg = as_config(config)
    c = ffi.new("pr_config *")
    c.time_max = cfg.time_max
    c.reward_mode = cfg.reward_mode_index
    for name in spec.SWITCHES:
        setattr(c, name, int(getattr(cfg, name)))
    return c


def config_from_cdata(c) -> EnvConfig:
    return EnvConfig(
        time_max=int(c.time_max),
        reward_mode=spec.REWARD_MODES[c.reward_mode] if c.reward_mode in (0, 1) else "shaped",
        **{name: bool(getattr(c, name)) for name in spec.SWITCHES},
    )


def error_message(code: int) -> str:
    return ffi.string(lib.pr_error_string(code)).decode()


def _clamp_action(action) -> int:
    """Any integer as an int32 the engine sees; beyond int32 stays invalid."""
    a = operator.index(action)
    return min(max(a, INT32_MIN), INT32_MAX)


def _ptr(ctype: str, arr: np.ndarray):
    return ffi.cast(ctype, arr.__array_interface__["data"][0])


def _check_buffer(name: str, arr, shape: tuple, dtypes: tuple) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype not in [np.dtype(d) for d in dtypes]:
        raise TypeError(f"{name} must have dtype {' or '.join(np.dtype(d).name for d in dtypes)}, got {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if name != "actions" and not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return arr


# The raw bytes of a render snapshot that the node list (node_type .. node_threat_est) and the
# asteroid list (n_asteroids .. ast_confidence) are built from.
_N_NODES_BYTES = slice(ffi.offsetof("pr_render", "n_nodes"), ffi.offsetof("pr_render", "current_node"))
_NODE_BYTES = slice(ffi.offsetof("pr_render", "node_type"), ffi.offsetof("pr_render", "n_asteroids"))
_FIELD_BYTES = slice(ffi.offsetof("pr_render", "n_asteroids"), ffi.offsetof("pr_render", "fuel"))

_STRUCT_CODES = {"int32_t": "i", "uint32_t": "I", "uint8_t": "B", "float": "f", "double": "d"}


def _struct_reader(ctype: str, skip=lambda name: False) -> tuple[struct.Struct, dict[str, int]]:
    """One struct.Struct that reads every field of a C struct (nested structs flattened as
    "outer.inner"; fields for which skip(name) is true left out) in one call, and each field's
    first index in the tuple it returns. Built from cffi's own offsets and types, so it follows
    the header; reading a snapshot this way costs a tenth of reading its fields one by one."""
    parts, index, end, values = ["="], {}, 0, 0

    def walk(struct_type, base: int, prefix: str) -> None:
        nonlocal end, values
        for name, field in struct_type.fields:
            full, item, count = prefix + name, field.type, 1
            if skip(full):
                continue
            if item.kind == "struct":
                walk(item, base + field.offset, full + ".")
                continue
            while item.kind == "array":  # arrays of arrays: flattened, row after row
                item, count = item.item, count * item.length
            if item.kind != "primitive":
                raise TypeError(f"{ctype}.{full}: cannot read a {item.cname} field")
            offset = base + field.offset
            if offset > end:
                parts.append(f"{offset - end}x")
            index[full], values = values, values + count
            parts.append(f"{count}{_STRUCT_CODES[item.cname]}")
            end = offset + count * ffi.sizeof(item)

    walk(ffi.typeof(ctype), 0, "")
    return struct.Struct("".join(parts)), index


# pr_render's scalars, market, mask, events and metrics (not the node and asteroid arrays, which
# render_state rebuilds only when they change), its node arrays, its asteroid field, and pr_events
_RENDER, _R = _struct_reader("pr_render", skip=lambda name: name.startswith(("node_", "ast_")))
_NODES, _N = _struct_reader("pr_render", skip=lambda name: not name.startswith(("n_nodes", "node_")))
_FIELD, _F = _struct_reader("pr_render", skip=lambda name: not name.startswith(("selected", "n_asteroids", "ast_")))
_EVENTS, _EVENT_INDEX = _struct_reader("pr_events")
_EVENT_FIELDS = tuple(_EVENT_INDEX)  # in the header's order, one value each
_EVENT_VALUES = _EVENT_FIELDS[3:]  # after flags, action, applied_action: reported when non-zero
_EVENT_NAMES_SEEN: dict[int, tuple[str, ...]] = {}  # flags -> names (few distinct flag sets occur)
_SHIP_FIELDS = ("fuel", "hull", "heat", "tool", "alert", "credits", "repair_kits", "stabilizers", "decoys",
                "escape_ticks")
# where _render_dynamic finds each value in _RENDER's tuple: an index, or a slice for an array
_R_T, _R_TIME_REMAINING, _R_TIME_MAX, _R_DONE = _R["t"], _R["time_remaining"], _R["time_max"], _R["done"]
_R_CURRENT_NODE, _R_SELECTED, _R_CARGO_VALUE = _R["current_node"], _R["selected"], _R["cargo_value"]
_SHIP_VALUES = operator.itemgetter(*(_R[name] for name in _SHIP_FIELDS))


def _span(name: str, length: int) -> slice:
    return slice(_R[name], _R[name] + length)


_R_CARGO, _R_REFINED = _span("cargo", spec.N_COMMODITIES), _span("refined", spec.N_COMMODITIES)
_R_PRICE, _R_PREV_PRICE = _span("price", spec.N_COMMODITIES), _span("prev_price", spec.N_COMMODITIES)
_R_INVENTORY = _span("inventory", spec.N_COMMODITIES)
_R_MASK, _R_METRICS = _span("mask", spec.N_ACTIONS), _span("metrics", spec.N_METRICS)
_R_EVENTS = _span("events.flags", len(_EVENT_FIELDS))


def _json_names():
    """spec's names for pr_render_json (the char arrays are kept alive with the struct)."""
    names, kept = ffi.new("pr_json_names *"), []
    for field, values in (("commodity", spec.COMMODITIES), ("node_type", spec.NODE_TYPES),
                          ("reward_mode", spec.REWARD_MODES), ("action", spec.ACTION_NAMES),
                          ("event", spec.EVENT_NAMES), ("metric", spec.METRIC_NAMES)):
        slots = getattr(names, field)
        if len(values) != len(slots):
            raise RuntimeError(f"spec has {len(values)} {field} names, the engine {len(slots)}")
        for i, value in enumerate(values):
            if not value.isidentifier():  # written into JSON as they are, unescaped
                raise RuntimeError(f"{field} name {value!r} is not a plain identifier")
            kept.append(ffi.new("char[]", value.encode()))
            slots[i] = kept[-1]
    return names, kept


_JSON_NAMES, _JSON_NAME_STRINGS = _json_names()
# the buffers of render_json and events_json: written by C, and not read past what it wrote
_uncleared = ffi.new_allocator(should_clear_after_alloc=False)
_EVENTS_JSON_CAP = 2048  # 20 event names, 15 numbers and 2 action names need well under half


class Engine:
    """One env: reset, step, observe, mask, metrics, render state, save/restore."""

    def __init__(self, config: EnvConfig | dict | None = None, seed: int = 0, *, _env=None, _owner=None):
        self._obs = np.zeros(spec.OBS_DIM, dtype=np.float32)
        self._mask = np.zeros(spec.N_ACTIONS, dtype=np.uint8)
        self._metrics = ffi.new("double[]", spec.N_METRICS)
        self._term = ffi.new("int *")
        self._trunc = ffi.new("int *")
        self._render = ffi.new("pr_render *")
        self._render_bytes = ffi.buffer(self._render)
        # render_state's last node list and asteroid list, with the raw snapshot bytes they were
        # built from: a step rebuilds them only when those bytes changed (see render_state)
        self._nodes_cache: tuple[bytes, list] = (b"", [])
        self._field_cache: tuple[bytes, list] = (b"", [])
        self._config_cache: tuple[EnvConfig | None, dict] = (None, {})
        if _env is None:
            self._env = ffi.new("pr_env *")
            self._owner = None
            self.config = as_config(config)
            self.reset(seed)
        else:  # a view of an env inside a Batch (keeps the batch alive)
            self._env = _env
            self._owner = _owner
            self.config = config_from_cdata(_env.config)

    # ---- episode -----------------------------------------------------------------

    def reset(self, seed: int = 0, config: EnvConfig | dict | None = None) -> np.ndarray:
        """Start an episode from a seed (0..2**64-1); config defaults to the current one."""
        if config is not None:
            self.config = as_config(config)
        seed = operator.index(seed)
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed must be in 0..2**64-1, got {seed}")
        lib.pr_reset(self._env, config_cdata(self.config), seed)
        return self.observation()

    def step(self, action) -> tuple[float, bool, bool]:
        """One decision. Any integer is accepted; outside 0..68 it is invalid (HOLD).
        Returns (reward, terminated, truncated); an ended episode stays ended."""
        reward = lib.pr_step(self._env, _clamp_action(action), self._term, self._trunc)
        return reward, bool(self._term[0]), bool(self._trunc[0])

    @property
    def seed(self) -> int:
        return int(self._env.seed)

    @property
    def next_seed(self) -> int:
        """The next seed of this env's sequence (what a batch auto-reset uses)."""
        return int(lib.pr_next_seed(self._env.seed))

    @property
    def t(self) -> int:
        return int(self._env.t)

    @property
    def done(self) -> bool:
        return self._env.done != 0

    @property
    def terminated(self) -> bool:
        return self._env.done == 1

    @property
    def truncated(self) -> bool:
        return self._env.done == 2

    # ---- views -------------------------------------------------------------------

    def observation(self) -> np.ndarray:
        """The 260 floats of the current state (a new array)."""
        lib.pr_observe(self._env, _ptr("float *", self._obs))
        return self._obs.copy()

    def action_mask(self) -> np.ndarray:
        """Validity of the 69 actions, np.uint8 0/1 (a new array)."""
        lib.pr_action_mask(self._env, _ptr("uint8_t *", self._mask))
        return self._mask.copy()

    def action_valid(self, action) -> bool:
        return bool(lib.pr_action_valid(self._env, _clamp_action(action)))

    def metrics(self) -> dict[str, float]:
        """Episode metrics as they stand (final once the episode has ended)."""
        lib.pr_episode_metrics(self._env, self._metrics)
        return {name: float(self._metrics[i]) for i, name in enumerate(spec.METRIC_NAMES)}

    def events(self) -> dict:
        """What the last step did: event names plus the non-zero numeric fields."""
        return _events_dict(_EVENTS.unpack_from(ffi.buffer(ffi.addressof(self._env[0], "events"))))

    def render_state(self) -> dict:
        """JSON-ready snapshot for people: graph, ship, cargo, market, mask, events.

        Read-only: the node list, the asteroid list and the config dict are shared with earlier
        calls as long as the snapshot bytes they come from are unchanged (a play session renders
        on every step, and most steps change neither the graph nor the asteroid field)."""
        r = self._render
        lib.pr_render_snapshot(self._env, r)
        raw = self._render_bytes
        key = raw[_NODE_BYTES] + raw[_N_NODES_BYTES]
        if key != self._nodes_cache[0]:
            self._nodes_cache = (key, self._render_nodes())
        key = raw[_FIELD_BYTES] + bytes((r.selected + 1,))
        if key != self._field_cache[0]:
            self._field_cache = (key, self._render_asteroids())
        return self._render_dynamic(self._nodes_cache[1], self._field_cache[1], self.config_dict())

    def render_json(self) -> bytes:
        """render_state() as JSON, written in C (core_c/src/render_json.c): the same bytes as
        orjson.dumps(render_state()), in about a tenth of the time, since no Python object is made
        per number (the play API's replies are mostly this state). The layout is written twice,
        here for Python's readers (its lists shared between calls) and in C for the wire;
        tests/bindings/test_render_json.py holds the two byte for byte equal."""
        return self._written_json(lib.pr_render_json, lib.PR_RENDER_JSON_CAP, "the render state")

    def events_json(self) -> bytes:
        """events() as JSON, written in C: the same bytes as orjson.dumps(events())."""
        return self._written_json(lib.pr_events_json, _EVENTS_JSON_CAP, "the events")

    def _written_json(self, write, cap: int, what: str) -> bytes:
        out = _uncleared("char[]", cap)
        n = write(self._env, _JSON_NAMES, out, cap)
        if n < 0:
            raise RuntimeError(f"the JSON of {what} needs more than {cap} bytes")
        return ffi.unpack(out, n)

    def config_dict(self) -> dict:
        """config.to_dict(), made once per config (read-only: shared with render_state)."""
        if self._config_cache[0] is not self.config:
            self._config_cache = (self.config, self.config.to_dict())
        return self._config_cache[1]

    def _render_nodes(self) -> list[dict]:
        v = _NODES.unpack_from(self._render_bytes)
        kinds, xs, ys, degrees = _N["node_type"], _N["node_x"], _N["node_y"], _N["node_degree"]
        visited, hops, threats = _N["node_visited"], _N["node_hops"], _N["node_threat_est"]
        neighbor, travel_time, width = _N["node_neighbor"], _N["node_travel_time"], spec.MAX_NEIGHBORS
        types, n_types = spec.NODE_TYPES, len(spec.NODE_TYPES)
        nodes = []
        for i in range(v[_N["n_nodes"]]):
            kind, degree, row = v[kinds + i], v[degrees + i], i * width
            nodes.append({
                "id": i,
                "type": types[kind] if kind < n_types else kind,
                "x": v[xs + i],
                "y": v[ys + i],
                "neighbors": list(v[neighbor + row:neighbor + row + degree]),
                "travel_times": list(v[travel_time + row:travel_time + row + degree]),
                "visited": bool(v[visited + i]),
                "threat_estimate": v[threats + i],
                "hops": v[hops + i],
            })
        return nodes

    def _render_asteroids(self) -> list[dict]:
        v = _FIELD.unpack_from(self._render_bytes)
        names, n_c = spec.COMMODITIES, spec.N_COMMODITIES
        valid, comp, stability = _F["ast_valid"], _F["ast_comp"], _F["ast_stability"]
        depletion, confidence, selected = _F["ast_depletion"], _F["ast_confidence"], v[_F["selected"]]
        asteroids = []
        for a in range(v[_F["n_asteroids"]]):
            if not v[valid + a]:
                continue
            asteroids.append({
                "slot": a,
                "selected": a == selected,
                "composition": dict(zip(names, v[comp + a * n_c:comp + (a + 1) * n_c])),
                "stability": v[stability + a],
                "depletion": v[depletion + a],
                "confidence": v[confidence + a],
            })
        return asteroids

    def _render_dynamic(self, nodes: list, asteroids: list, config: dict) -> dict:
        names = spec.COMMODITIES
        v = _RENDER.unpack_from(self._render_bytes)
        done = v[_R_DONE]
        return {
            "t": v[_R_T],
            "time_remaining": v[_R_TIME_REMAINING],
            "time_max": v[_R_TIME_MAX],
            "done": bool(done),
            "terminated": done == 1,
            "truncated": done == 2,
            "seed": int(self._env.seed),
            "config": config,
            "current_node": v[_R_CURRENT_NODE],
            "selected_asteroid": v[_R_SELECTED],
            "nodes": nodes,
            "asteroids": asteroids,
            "ship": dict(zip(_SHIP_FIELDS, _SHIP_VALUES(v))),
            "cargo": dict(zip(names, v[_R_CARGO])),
            "refined": dict(zip(names, v[_R_REFINED])),
            "cargo_value": v[_R_CARGO_VALUE],
            "market": {name: {"price": price, "prev_price": prev, "inventory": inventory}
                       for name, price, prev, inventory in zip(names, v[_R_PRICE], v[_R_PREV_PRICE], v[_R_INVENTORY])},
            "action_mask": list(v[_R_MASK]),
            "events": _events_dict(v[_R_EVENTS]),
            "metrics": dict(zip(spec.METRIC_NAMES, v[_R_METRICS])),
        }

    # ---- save / restore ------------------------------------------------------------

    def save(self) -> bytes:
        """The whole state as bytes (header with magic, version, size, CRC-32)."""
        size = lib.pr_save_size()
        buf = ffi.new("uint8_t[]", size)
        written = lib.pr_save(self._env, buf, size)
        if written != size:
            raise RuntimeError(f"pr_save wrote {written} of {size} bytes")
        return bytes(ffi.buffer(buf, size))

    def restore(self, data: bytes) -> None:
        """Restore a state made by save(); ValueError (state untouched) when the bytes
        are truncated, corrupt, from another spec version or out of range."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"restore() needs bytes, got {type(data).__name__}")
        data = bytes(data)
        code = lib.pr_restore(self._env, ffi.from_buffer("uint8_t[]", data), len(data))
        if code != 0:
            raise ValueError(f"cannot restore engine state: {error_message(code)} (code {code})")
        self.config = config_from_cdata(self._env.config)

    def clone(self) -> Engine:
        """An independent copy of this env, state and all."""
        other = Engine(self.config)
        other.restore(self.save())
        return other


def _action_name(a: int) -> str | None:
    return spec.ACTION_NAMES[a] if 0 <= a < spec.N_ACTIONS else None


def _events_dict(values: tuple) -> dict:
    """Event names of the last step, the action as requested and as applied
    (with their names; None out of range or before the first step), and the
    non-zero numeric fields of pr_events. values: pr_events's fields in order (_EVENTS)."""
    flags, action, applied = values[0], values[1], values[2]
    names = _EVENT_NAMES_SEEN.get(flags)
    if names is None:
        if len(_EVENT_NAMES_SEEN) > 4096:
            _EVENT_NAMES_SEEN.clear()
        names = _EVENT_NAMES_SEEN[flags] = tuple(spec.event_names(flags))
    out = {"names": list(names), "flags": flags,
           "action": action, "action_name": _action_name(action),
           "applied_action": applied, "applied_action_name": _action_name(applied)}
    for field, v in zip(_EVENT_VALUES, values[3:]):
        if v:
            out[field] = v
    return out


class Batch:
    """N envs in one C allocation, stepped in place into numpy buffers.

    Buffers (all C-contiguous): observations float32 [N, 260], actions int32 [N],
    rewards float32 [N], terminals / truncations bool [N], action_masks bool [N, 69].
    Pass any of them to bind the batch to arrays you own (zero copy; uint8 is
    accepted wherever bool is); the others are allocated here. step_many
    auto-resets an env whose episode ended, with the next seed of its sequence
    (keep_final() keeps that episode's final observation and metrics).
    """

    def __init__(self, n_envs: int, config: EnvConfig | dict | None = None, threads: int = 1, *,
                 observations: np.ndarray | None = None, actions: np.ndarray | None = None,
                 rewards: np.ndarray | None = None, terminals: np.ndarray | None = None,
                 truncations: np.ndarray | None = None, action_masks: np.ndarray | None = None):
        n = operator.index(n_envs)
        if not 1 <= n <= INT32_MAX:
            raise ValueError(f"n_envs must be >= 1, got {n}")
        threads = operator.index(threads)
        self.n_envs = n
        self.threads = max(1, threads)
        self.config = as_config(config)

        flag = (np.bool_, np.uint8)
        self.observations = self._buffer("observations", observations, (n, spec.OBS_DIM), (np.float32,))
        self.actions = self._buffer("actions", actions, (n,), (np.int32,))
        self.rewards = self._buffer("rewards", rewards, (n,), (np.float32,))
        self.terminals = self._buffer("terminals", terminals, (n,), flag)
        self.truncations = self._buffer("truncations", truncations, (n,), flag)
        self.action_masks = self._buffer("action_masks", action_masks, (n, spec.N_ACTIONS), flag)

        ptr = lib.pr_batch_create(n, config_cdata(self.config), self.threads)
        if ptr == ffi.NULL:
            raise MemoryError(f"pr_batch_create({n}) failed")
        pid = os.getpid()

        def destroy(p, pid=pid):
            # A forked child (PufferLib Multiprocessing) must not join the
            # parent's native threads: it leaves the parent's batch alone.
            if os.getpid() == pid:
                lib.pr_batch_destroy(p)

        self._batch = ffi.gc(ptr, destroy)
        lib.pr_batch_set_buffers(
            self._batch,
            _ptr("float *", self.observations),
            _ptr("int32_t *", self.actions),
            _ptr("float *", self.rewards),
            _ptr("uint8_t *", self.terminals),
            _ptr("uint8_t *", self.truncations),
            _ptr("uint8_t *", self.action_masks),
        )
        self.final_observations: np.ndarray | None = None
        self.final_metrics: np.ndarray | None = None
        self._sums = ffi.new("double[]", spec.N_METRICS)
        self._max_records = n * lib.PR_LOG_RING
        self._records = np.zeros((self._max_records, spec.N_METRICS), dtype=np.float64)
        self._n_records = ffi.new("int64_t *")
        self._seeds = np.zeros(n, dtype=np.uint64)
        self.reset(np.arange(n, dtype=np.uint64))

    @staticmethod
    def _buffer(name, arr, shape, dtypes):
        if arr is None:
            return np.zeros(shape, dtype=dtypes[0])
        return _check_buffer(name, arr, shape, dtypes)

    def __len__(self) -> int:
        return self.n_envs

    def _live(self):
        if self._batch is None:
            raise RuntimeError("this Batch is closed")
        return self._batch

    def reset(self, seeds=0) -> np.ndarray:
        """Reset every env: seeds is a base int (env i gets base + i) or N seeds."""
        if np.ndim(seeds) == 0:
            base = operator.index(seeds)
            if not 0 <= base <= 2**64 - self.n_envs:
                raise ValueError(f"base seed out of range: {base}")
            self._seeds[:] = np.arange(self.n_envs, dtype=np.uint64) + np.uint64(base)
        else:
            arr = np.asarray(seeds)
            if arr.shape != (self.n_envs,):
                raise ValueError(f"need {self.n_envs} seeds, got shape {arr.shape}")
            if arr.dtype.kind not in "iu":
                raise TypeError(f"seeds must be integers, got dtype {arr.dtype}")
            if arr.dtype.kind == "i" and (arr < 0).any():
                raise ValueError("seeds must be non-negative")
            self._seeds[:] = arr.astype(np.uint64)
        lib.pr_batch_reset_many(self._live(), _ptr("uint64_t *", self._seeds))
        return self.observations

    def step(self, actions=None) -> None:
        """Step every env once with self.actions (after copying `actions` in, if given).
        Integers beyond int32 are clamped (they stay invalid actions)."""
        batch = self._live()
        if actions is not None:
            self.set_actions(actions)
        lib.pr_batch_step_many(batch)

    def set_actions(self, actions) -> None:
        a = np.asarray(actions)
        if a.shape != (self.n_envs,):
            a = a.reshape(self.n_envs) if a.size == self.n_envs else a
            if a.shape != (self.n_envs,):
                raise ValueError(f"need {self.n_envs} actions, got shape {np.shape(actions)}")
        if a.__array_interface__["data"][0] == self.actions.__array_interface__["data"][0] and a.dtype == np.int32:
            return  # already the batch's own buffer
        if a.dtype.kind not in "iu":
            raise TypeError(f"actions must be integers, got dtype {a.dtype}")
        if a.dtype == np.int32:
            np.copyto(self.actions, a)
        else:
            np.clip(a, INT32_MIN, INT32_MAX, out=self.actions, casting="unsafe")

    def keep_final(self) -> tuple[np.ndarray, np.ndarray]:
        """From now on, the step that ends an env's episode also writes its final
        observation into row i of self.final_observations (float32 [N, 260]) and
        its final episode metrics into self.final_metrics (float64 [N, 19], in
        spec.METRIC_NAMES order), before the auto-reset; other rows keep what they
        held. Returns the two buffers (allocated on the first call)."""
        if self.final_observations is None:
            self.final_observations = np.zeros((self.n_envs, spec.OBS_DIM), dtype=np.float32)
            self.final_metrics = np.zeros((self.n_envs, spec.N_METRICS), dtype=np.float64)
            lib.pr_batch_set_final_buffers(self._live(), _ptr("float *", self.final_observations),
                                           _ptr("double *", self.final_metrics))
        return self.final_observations, self.final_metrics

    def set_config(self, config: EnvConfig | dict | None) -> None:
        """The env config of every episode started from now on (by reset or an auto-reset);
        episodes in progress finish under their own. A curriculum changes stage with this."""
        self.config = as_config(config)
        lib.pr_batch_set_config(self._live(), config_cdata(self.config))

    def read_log(self) -> tuple[int, dict[str, float], np.ndarray]:
        """Episodes finished since the last read: (count, metric sums, records [k, 19]).
        Records are the most recent episodes of each env (up to 8 per env). Clears the log."""
        count = lib.pr_batch_read_log(self._live(), self._sums, _ptr("double *", self._records),
                                      self._max_records, self._n_records)
        sums = {name: float(self._sums[i]) for i, name in enumerate(spec.METRIC_NAMES)}
        return int(count), sums, self._records[: self._n_records[0]].copy()

    def engine(self, i: int) -> Engine:
        """An Engine view of env i (shares its state; valid while the batch is open)."""
        i = operator.index(i)
        if not 0 <= i < self.n_envs:
            raise IndexError(f"env index {i} out of range 0..{self.n_envs - 1}")
        return Engine(_env=lib.pr_batch_env(self._live(), i), _owner=self)

    def seeds(self) -> np.ndarray:
        """The current episode seed of every env."""
        batch = self._live()
        return np.array([lib.pr_batch_env(batch, i).seed for i in range(self.n_envs)], dtype=np.uint64)

    def close(self) -> None:
        """Free the C batch now (idempotent); the numpy buffers stay readable."""
        if self._batch is not None:
            ffi.release(self._batch)
            self._batch = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
