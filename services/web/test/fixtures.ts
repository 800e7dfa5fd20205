// Small, hand-written API answers in the shapes the API sends (see src/types.ts).

import type { FramePage, RawEvents, RawFrame, RawState, Replay, WindowRow } from "../src/types";

export function rawState(changes: Partial<RawState> = {}): RawState {
  const commodities = ["iron", "nickel", "water_ice", "pge", "rare_isotopes", "volatiles"];
  const zero = Object.fromEntries(commodities.map((c) => [c, 0]));
  return {
    t: 0, time_remaining: 100, time_max: 100, done: false, terminated: false, truncated: false, seed: 7,
    current_node: 0, selected_asteroid: -1,
    nodes: [
      { id: 0, type: "station", x: 100, y: 100, neighbors: [1, 2], travel_times: [3, 5], visited: true, threat_estimate: 0, hops: 0 },
      { id: 1, type: "cluster", x: 200, y: 50, neighbors: [0], travel_times: [3], visited: false, threat_estimate: 0.25, hops: 1 },
      { id: 2, type: "hazard", x: 20, y: 220, neighbors: [0], travel_times: [5], visited: false, threat_estimate: 0.5, hops: 1 },
    ],
    asteroids: [],
    ship: { fuel: 1000, hull: 100, heat: 0, tool: 100, alert: 0, credits: 500, repair_kits: 2, stabilizers: 1, decoys: 1, escape_ticks: 0 },
    cargo: { ...zero }, refined: { ...zero }, cargo_value: 0,
    market: Object.fromEntries(commodities.map((c, i) => [c, { price: 10 * (i + 1), prev_price: 10 * (i + 1), inventory: 80 }])),
    action_mask: Array.from({ length: 69 }, () => 0),
    events: { names: [], flags: 0 },
    metrics: {},
    ...changes,
  };
}

export function rawFrame(index: number, changes: { events?: RawEvents; credits?: number; reward?: number } = {}): RawFrame {
  const state = rawState({ t: index * 2 + 1 });
  state.ship.credits = changes.credits ?? 500 + index;
  const events = changes.events ?? { names: [], flags: 0, action: 6, action_name: "HOLD_DRIFT", dt: 2 };
  return { index, t: state.t, action: 6, action_name: "HOLD_DRIFT", reward: changes.reward ?? -0.001, dt: 2, events, state };
}

/** A fetchPage for ReplayFrames over `length` synthetic frames; records the offsets asked for. */
export function fakePages(length: number, notable: Set<number> = new Set()) {
  const asked: number[] = [];
  const fetchPage = async (offset: number, limit: number): Promise<FramePage> => {
    asked.push(offset);
    const frames = [];
    for (let i = offset; i < Math.min(length, offset + limit); i++) {
      frames.push(rawFrame(i, notable.has(i)
        ? { events: { names: ["sale"], flags: 1 << 9, sale_units: 10, sale_commodity: 3, sale_revenue: 1500, dt: 1 } }
        : {}));
    }
    return { replay_id: "w000000-s1-00000000", offset, length, frames };
  };
  return { asked, fetchPage };
}

export function replay(changes: Partial<Replay>): Replay {
  return {
    replay_id: "w000000-s1-00000000", run_id: "20261122-000000-nogit-0000", window_id: 0, seed: 1, return: 0,
    net_profit: 0, survival: true, length: 10, tags: [], created_at: "2026-11-22T00:00:00Z", ...changes,
  };
}

export function windowRow(window_id: number, metrics: Record<string, number | null>): WindowRow {
  return {
    run_id: "20261122-000000-nogit-0000", window_id, env_steps_total: (window_id + 1) * 1000, checkpoint_path: "x",
    metrics, created_at: "2026-11-22T00:00:00Z", eval_status: null, eval_error: null,
  };
}
