"""The replay file: one recorded episode, re-creatable exactly by the engine.

`runs/{run_id}/replays/{replay_id}.jsonl.gz`, gzip of JSON Lines:

    line 1      the header (schema, ids, env config, seed, policy, every action,
                action names, summary metrics, the static node graph and the
                full state after reset)
    line 2..    one frame per step: t, action, action_name, reward, dt, events,
                and the render state after the step, delta-encoded; since
                schema version 2, when a policy chose the action, `policy`:
                {"top": [[action, probability], ...] (its 5 likeliest actions,
                after the mask when it masks), "value", "entropy"}. Version-1
                files (no `policy`) read the same; bot and human replays have none.

Encoding (measured by `prospector bench eval`): a full render state is about
5.6 kB of JSON, 60 % of it the node graph, which never changes in an episode
except three fields per node. So the header carries the graph's static part
once (`graph`: id, type, x, y, neighbors, travel_times) and the full state
after reset (`initial_state`); each frame stores only what changed since the
previous frame:

    "set":   top-level keys replaced whole (lists, scalars, changed key sets)
    "patch": {key: {subkey: value}} for dicts whose key set did not change
             (ship, market, metrics ...): only the changed subkeys
    node_visited / node_threat_estimate / node_hops: the dynamic node fields,
             as lists by node id, under "set" when they changed

and `state.events` is not stored (it is the frame's `events`). gzip then
squeezes the repetitive keys. `iter_frames` rebuilds the full render state of
every frame, so readers (the API, the web viewer) never see the encoding.

Floats are written with Python's shortest round-trip repr, so a decoded state
equals the engine's `render_state()` exactly: `verify` re-simulates from the
seed, config and action list and compares every frame with ==.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prospector import spec
from prospector_common.storage import atomic_open

SCHEMA = "prospector-replay"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 2 added the optional per-frame `policy`; a version-1 file reads the same
ENCODING = "delta-v1"
DEFAULT_GZIP_LEVEL = 6

# Node fields that change during an episode; the others are the static graph.
NODE_DYNAMIC = ("visited", "threat_estimate", "hops")
_NODE_KEYS = {f"node_{name}": name for name in NODE_DYNAMIC}


class ReplayFormatError(ValueError):
    """A replay file that is not one, is truncated, or is from another schema; names the file."""


def _dumps(value: Any) -> str:
    # allow_nan=False: a NaN in a render state is an engine bug and must not be written silently.
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


# ---- the state codec ------------------------------------------------------------------


def static_graph(state: dict) -> list[dict]:
    """The node graph without its dynamic fields (stored once, in the header)."""
    return [{k: v for k, v in node.items() if k not in NODE_DYNAMIC} for node in state["nodes"]]


def _flat(state: dict) -> dict:
    """The state with nodes replaced by their dynamic fields as lists, and without events."""
    out = {k: v for k, v in state.items() if k not in ("nodes", "events")}
    nodes = state["nodes"]
    for key, name in _NODE_KEYS.items():
        out[key] = [node[name] for node in nodes]
    return out


def _delta(prev: dict, cur: dict) -> dict:
    changed_set: dict[str, Any] = {}
    patch: dict[str, dict] = {}
    for key, value in cur.items():
        old = prev.get(key, _MISSING)
        if old == value and type(old) is type(value):
            continue
        if isinstance(value, dict) and isinstance(old, dict) and old.keys() == value.keys():
            sub = {k: v for k, v in value.items() if old[k] != v or type(old[k]) is not type(v)}
            patch[key] = sub
        else:
            changed_set[key] = value
    removed = [k for k in prev if k not in cur]
    delta: dict[str, Any] = {}
    if changed_set:
        delta["set"] = changed_set
    if patch:
        delta["patch"] = patch
    if removed:
        delta["del"] = removed
    return delta


def _apply(prev: dict, delta: dict) -> dict:
    cur = dict(prev)
    for key in delta.get("del", ()):
        cur.pop(key, None)
    cur.update(delta.get("set", {}))
    for key, sub in delta.get("patch", {}).items():
        cur[key] = {**cur[key], **sub}
    return cur


_MISSING = object()


def _unflatten(flat: dict, graph: list[dict], events: dict, key_order: list[str]) -> dict:
    nodes = []
    for i, static in enumerate(graph):
        node = dict(static)
        for key, name in _NODE_KEYS.items():
            node[name] = flat[key][i]
        nodes.append(node)
    state = {}
    for key in key_order:
        if key == "nodes":
            state["nodes"] = nodes
        elif key == "events":
            state["events"] = events
        elif key in flat:
            state[key] = flat[key]
    for key, value in flat.items():  # keys not in the header's order (none today)
        if key not in state and key not in _NODE_KEYS:
            state[key] = value
    return state


# ---- writing ----------------------------------------------------------------------------


@dataclass
class Recorder:
    """Builds one replay in memory as encoded lines, step by step.

        rec = Recorder(engine.render_state())         # after reset
        ... reward, term, trunc = engine.step(a); rec.add(a, reward, engine.events(), engine.render_state())
        data = rec.to_bytes(header_fields)            # gzip bytes, ready for write()
    """

    initial_state: dict
    gzip_level: int = DEFAULT_GZIP_LEVEL
    actions: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    _prev: dict = field(init=False)

    def __post_init__(self) -> None:
        self.graph = static_graph(self.initial_state)
        self.key_order = list(self.initial_state)
        self._prev = _flat(self.initial_state)

    def __len__(self) -> int:
        return len(self.lines)

    def add(self, action: int, reward: float, events: dict, state: dict, policy: dict | None = None) -> None:
        if len(self.lines) % 512 == 0 and static_graph(state) != self.graph:
            raise ValueError("the node graph changed during the episode; the replay encoding assumes it does not")
        flat = _flat(state)
        delta = _delta(self._prev, flat)
        if state.get("events") != events:  # never seen: render events are the step's events
            delta.setdefault("set", {})["__state_events"] = state.get("events")
        self._prev = flat
        action = int(action)
        self.actions.append(action)
        frame = {
            "t": state["t"],
            "action": action,
            "action_name": spec.ACTION_NAMES[action] if 0 <= action < spec.N_ACTIONS else None,
            "reward": float(reward),
            "dt": int(events.get("dt", 0)),
            "events": events,
            "delta": delta,
        }
        if policy is not None:
            frame["policy"] = policy
        self.lines.append(_dumps(frame))

    def header(self, **fields: Any) -> dict:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "encoding": ENCODING,
            **fields,
            "length": len(self.lines),
            "actions": self.actions,
            "action_names": list(spec.ACTION_NAMES),
            "spec_version": spec.SPEC_VERSION,
            "state_keys": self.key_order,
            "graph": self.graph,
            "initial_state": self.initial_state,
        }

    def to_bytes(self, **header_fields: Any) -> bytes:
        """The whole file: gzip (mtime 0, so equal episodes give equal bytes) of header + frames."""
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=self.gzip_level, mtime=0) as gz:
            gz.write((_dumps(self.header(**header_fields)) + "\n").encode())
            for line in self.lines:
                gz.write(line.encode())
                gz.write(b"\n")
        return buf.getvalue()


def write_replay(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a replay file atomically (a reader never sees half of one)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


# ---- reading ----------------------------------------------------------------------------


def _open_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict]]:
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.endswith(b"\n"):
                    raise ReplayFormatError(f"replay {path}: line {number} is truncated")
                try:
                    yield number, json.loads(raw)
                except ValueError as exc:
                    raise ReplayFormatError(f"replay {path}: line {number} is not JSON: {exc}") from None
    except FileNotFoundError:
        raise ReplayFormatError(f"replay {path} does not exist") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ReplayFormatError(f"replay {path} is not a complete gzip file: {exc}") from None


def _check_header(path: Any, header: Any) -> dict:
    if not isinstance(header, dict) or header.get("schema") != SCHEMA:
        raise ReplayFormatError(f"replay {path}: the first line is not a {SCHEMA} header")
    if header.get("schema_version") not in READABLE_VERSIONS or header.get("encoding") != ENCODING:
        raise ReplayFormatError(
            f"replay {path}: schema version {header.get('schema_version')} / encoding "
            f"{header.get('encoding')!r}, this reader knows {READABLE_VERSIONS} / {ENCODING!r}"
        )
    return header


def read_header(path: str | os.PathLike[str]) -> dict:
    """The header of a replay file (reads only its first line)."""
    for _, header in _open_lines(path):
        return _check_header(path, header)
    raise ReplayFormatError(f"replay {path} is empty")


def frame_record(index: int, raw: dict, events: dict, state: dict) -> dict:
    """One decoded frame as the readers return it (iter_frames, and the API's keyframe index)."""
    return {"index": index, "t": raw["t"], "action": raw["action"], "action_name": raw["action_name"],
            "reward": raw["reward"], "dt": raw["dt"], "events": events, "state": state,
            "policy": raw.get("policy")}


def iter_frames(path: str | os.PathLike[str], offset: int = 0, limit: int | None = None) -> Iterator[dict]:
    """Frames offset, offset+1, ... (at most `limit`) with their full render states.

    Each frame: {index, t, action, action_name, reward, dt, events, state, policy}
    (policy None when the frame has none: version 1, a bot or a person).
    Deltas are applied from the start, so a late offset still decodes every
    earlier line (cheap: they are small), but only the asked-for frames are built.
    """
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError("offset and limit must be >= 0")
    lines = _open_lines(path)
    header = None
    for _, header in lines:
        break
    header = _check_header(path, header)
    if limit == 0:
        return
    graph, keys = header["graph"], header["state_keys"]
    flat = _flat(header["initial_state"])
    produced = 0
    index = -1
    for index, (number, raw) in enumerate((n, r) for n, r in lines):
        try:
            flat = _apply(flat, raw["delta"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ReplayFormatError(f"replay {path}: line {number} is not a frame: {exc!r}") from None
        if index < offset:
            continue
        events = raw["events"]
        state_events = flat.pop("__state_events", events)
        yield frame_record(index, raw, events, _unflatten(flat, graph, state_events, keys))
        produced += 1
        if limit is not None and produced >= limit:
            return
    if index + 1 != header["length"]:
        raise ReplayFormatError(f"replay {path}: {index + 1} frames, the header says {header['length']}")


def read_frames(path: str | os.PathLike[str], offset: int = 0, limit: int | None = None) -> list[dict]:
    """list(iter_frames(...))."""
    return list(iter_frames(path, offset, limit))


# ---- verification -----------------------------------------------------------------------


@dataclass
class VerifyResult:
    ok: bool
    frames_checked: int
    length: int
    mismatch: dict | None = None  # {frame, field, recorded, replayed} of the first difference

    def to_dict(self) -> dict:
        return {"ok": self.ok, "frames_checked": self.frames_checked, "length": self.length,
                "mismatch": self.mismatch}


def _first_difference(recorded: Any, replayed: Any, where: str = "") -> tuple[str, Any, Any] | None:
    """The path of the first differing leaf (floats compared exactly, NaN never equal)."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        for key in list(recorded) + [k for k in replayed if k not in recorded]:
            if key not in recorded or key not in replayed:
                return f"{where}.{key}", recorded.get(key, "<missing>"), replayed.get(key, "<missing>")
            found = _first_difference(recorded[key], replayed[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(replayed, list):
        if len(recorded) != len(replayed):
            return f"{where}(length)", len(recorded), len(replayed)
        for i, (a, b) in enumerate(zip(recorded, replayed)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    same = recorded == replayed and type(recorded) is type(replayed)
    if isinstance(recorded, float) and isinstance(replayed, float) and math.isnan(recorded):
        same = False
    return None if same else (where or "(value)", recorded, replayed)


def verify(path: str | os.PathLike[str]) -> VerifyResult:
    """Re-simulate a replay from its seed, config and action list; compare every frame.

    ReplayFormatError if the file cannot be read; otherwise a VerifyResult
    naming the first frame and field that differ.
    """
    from prospector.engine import Engine

    header = read_header(path)
    actions = header["actions"]
    length = header["length"]
    engine = Engine(header["env_config"], seed=header["seed"])

    def fail(frame: int, field: str, recorded: Any, replayed: Any, checked: int) -> VerifyResult:
        return VerifyResult(False, checked, length, {"frame": frame, "field": field,
                                                    "recorded": recorded, "replayed": replayed})

    diff = _first_difference(header["initial_state"], engine.render_state(), "state")
    if diff:
        return fail(-1, "initial_" + diff[0], diff[1], diff[2], 0)
    if len(actions) != length:
        return fail(-1, "actions(length)", len(actions), length, 0)
    checked = 0
    for frame in iter_frames(path):
        i = frame["index"]
        if frame["action"] != actions[i]:
            return fail(i, "action", frame["action"], actions[i], checked)
        if engine.done:
            return fail(i, "episode", "a frame", "the episode had already ended", checked)
        reward, _, _ = engine.step(actions[i])
        events = engine.events()
        replayed = {"t": engine.t, "action_name": spec.ACTION_NAMES[actions[i]] if 0 <= actions[i] < spec.N_ACTIONS
                    else None, "reward": float(reward), "dt": int(events.get("dt", 0)), "events": events,
                    "state": engine.render_state()}
        recorded = {k: frame[k] for k in replayed}
        diff = _first_difference(recorded, replayed)
        if diff:
            return fail(i, diff[0].lstrip("."), diff[1], diff[2], checked)
        checked += 1
    if checked != length:
        return fail(checked, "frames", length, checked, checked)
    if not engine.done:
        return fail(length - 1, "episode", "ended", "still running after the last action", checked)
    diff = _first_difference(header.get("summary", {}).get("metrics"), engine.metrics(), "summary.metrics")
    if diff:
        return fail(length - 1, diff[0], diff[1], diff[2], checked)
    return VerifyResult(True, checked, length)
