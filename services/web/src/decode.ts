// Decoding what the API sends into what the page draws.
//
// The API already undoes the replay file's delta encoding and sends every frame with
// its full render state (about 5.6 kB of JSON, 60 % of it the node graph, which never
// changes in an episode). The page keeps the graph once per replay (`graphOf`) and per
// frame only the dynamic node fields (`View`), which is what keeps a long replay's
// cache small. `Series` holds one number per frame for the whole episode (timeline,
// sparklines, jump-to-event) in typed arrays allocated once.

import { COMMODITIES } from "./game";
import type { PolicyInfo, RawEvents, RawFrame, RawState, StaticNode } from "./types";

export interface Graph {
  nodes: StaticNode[];
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

/** The render state without the static graph: node threat, visited and hops by node id. */
export interface View extends Omit<RawState, "nodes"> {
  threat: Float32Array;
  visited: Uint8Array;
  hops: Int16Array;
}

export interface Frame {
  index: number;
  t: number;
  action: number;
  actionName: string;
  reward: number;
  dt: number;
  events: RawEvents;
  view: View;
  policy?: PolicyInfo | null;
}

export function graphOf(nodes: StaticNode[]): Graph {
  const xs = nodes.map((n) => n.x);
  const ys = nodes.map((n) => n.y);
  const statics = nodes.map(({ id, type, x, y, neighbors, travel_times }) => ({ id, type, x, y, neighbors, travel_times }));
  return {
    nodes: statics,
    minX: Math.min(...xs), maxX: Math.max(...xs), minY: Math.min(...ys), maxY: Math.max(...ys),
  };
}

export function decodeState(state: RawState): View {
  const { nodes, ...rest } = state;
  const n = nodes.length;
  const threat = new Float32Array(n);
  const visited = new Uint8Array(n);
  const hops = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    threat[i] = nodes[i].threat_estimate;
    visited[i] = nodes[i].visited ? 1 : 0;
    hops[i] = nodes[i].hops;
  }
  return { ...rest, threat, visited, hops };
}

export function decodeFrame(raw: RawFrame): Frame {
  return {
    index: raw.index,
    t: raw.t,
    action: raw.action,
    actionName: raw.action_name ?? raw.events.action_name ?? `action ${raw.action}`,
    reward: raw.reward,
    dt: raw.dt,
    events: raw.events,
    view: decodeState(raw.state),
    policy: raw.policy ?? null,
  };
}

/** The frame before the first step (t = 0), from a replay header's initial state. */
export function initialFrame(state: RawState): Frame {
  return { index: -1, t: state.t, action: -1, actionName: "start", reward: 0, dt: 0, events: state.events ?? { names: [], flags: 0 }, view: decodeState(state) };
}

/** Per-frame numbers of a whole episode, in typed arrays; `known` marks the frames filled in. */
export class Series {
  readonly t: Int32Array;
  readonly reward: Float32Array;
  readonly credits: Float64Array;
  readonly flags: Uint32Array;
  readonly prices: Float32Array[]; // one array per commodity
  readonly known: Uint8Array;
  /** the policy's value estimate and entropy per frame (NaN where the frame has none) */
  readonly value: Float32Array;
  readonly entropy: Float32Array;
  /** frames filled that carry a policy (0: a bot's or a person's replay) */
  withPolicy = 0;
  filled = 0;
  private lastFilled = -1;

  constructor(readonly capacity: number) {
    this.t = new Int32Array(capacity);
    this.reward = new Float32Array(capacity);
    this.credits = new Float64Array(capacity);
    this.flags = new Uint32Array(capacity);
    this.prices = COMMODITIES.map(() => new Float32Array(capacity));
    this.known = new Uint8Array(capacity);
    this.value = new Float32Array(capacity).fill(NaN);
    this.entropy = new Float32Array(capacity).fill(NaN);
  }

  set(i: number, frame: Frame): void {
    if (i < 0 || i >= this.capacity) return;
    if (!this.known[i]) {
      this.filled++;
      if (frame.policy) this.withPolicy++;
    }
    this.known[i] = 1;
    this.value[i] = frame.policy?.value ?? NaN;
    this.entropy[i] = frame.policy?.entropy ?? NaN;
    this.lastFilled = Math.max(this.lastFilled, i);
    this.t[i] = frame.t;
    this.reward[i] = frame.reward;
    this.credits[i] = frame.view.ship.credits;
    this.flags[i] = frame.events.flags >>> 0;
    COMMODITIES.forEach((c, k) => { this.prices[k][i] = frame.view.market[c]?.price ?? 0; });
  }

  /** The highest index filled so far (-1 when none). */
  get last(): number {
    return this.lastFilled;
  }

  /** The first filled frame after `from` whose flags share a bit with `mask`, or -1. */
  nextWith(from: number, mask: number): number {
    for (let i = Math.max(0, from + 1); i < this.capacity; i++) {
      if (this.known[i] && (this.flags[i] & mask) !== 0) return i;
    }
    return -1;
  }

  /** The last `count` filled frames at or before `at` whose flags share a bit with `mask`, newest first. */
  recentWith(at: number, mask: number, count: number): number[] {
    const out: number[] = [];
    for (let i = Math.min(at, this.capacity - 1); i >= 0 && out.length < count; i--) {
      if (this.known[i] && (this.flags[i] & mask) !== 0) out.push(i);
    }
    return out;
  }

  /** Min and max over filled frames of one array (for chart scales). */
  range(values: ArrayLike<number>): [number, number] {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < this.capacity; i++) {
      if (!this.known[i]) continue;
      const v = values[i];
      if (Number.isNaN(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? [lo, hi] : [0, 1];
  }
}
