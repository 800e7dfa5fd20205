// The game's vocabulary as the page shows it: commodities and their colors, gauge
// thresholds, which events are worth a stop, hotkeys, and why an action is invalid.
// Numbers come from the frozen contract (shared/SPEC.md) and core_c/src/tuning.h.

import type { RawState } from "./types";

export const COMMODITIES = ["iron", "nickel", "water_ice", "pge", "rare_isotopes", "volatiles"] as const;
export type Commodity = (typeof COMMODITIES)[number];

export const COMMODITY_LABEL: Record<string, string> = {
  iron: "Iron", nickel: "Nickel", water_ice: "Water ice", pge: "PGE", rare_isotopes: "Rare isotopes",
  volatiles: "Volatiles",
};

/** One hue per commodity, distinguishable on the dark background and for common color blindness. */
export const COMMODITY_COLOR: Record<string, string> = {
  iron: "#9aa5b1", nickel: "#5fb3b3", water_ice: "#8ec5ff", pge: "#f2c14e", rare_isotopes: "#d96bd9",
  volatiles: "#7bd88f",
};

export const FUEL_MAX = 1000;
export const CARGO_MAX = 200;
export const N_ACTIONS = 69;

/** A ship gauge: its maximum and the level where it turns to a warning (`high`: warn above). */
export interface Gauge {
  key: "fuel" | "hull" | "heat" | "tool" | "alert";
  label: string;
  max: number;
  threshold: number;
  high: boolean;
  why: string;
}

export const GAUGES: Gauge[] = [
  { key: "fuel", label: "Fuel", max: FUEL_MAX, threshold: 150, high: false,
    why: "below 150 a trip home with cargo may strand the ship" },
  { key: "hull", label: "Hull", max: 100, threshold: 30, high: false, why: "at 0 the ship is destroyed" },
  { key: "heat", label: "Heat", max: 100, threshold: 70, high: true,
    why: "above 70 mining yield drops and the heat penalty starts; past 100 the hull burns" },
  { key: "tool", label: "Tool", max: 100, threshold: 40, high: false,
    why: "a worn tool yields less and fractures more" },
  { key: "alert", label: "Alert", max: 100, threshold: 50, high: true, why: "pirates notice a loud ship" },
];

export function gaugeWarn(gauge: Gauge, value: number): boolean {
  return gauge.high ? value > gauge.threshold : value < gauge.threshold;
}

// Event bits, in the engine's order (spec.EVENT_NAMES).
export const EVENT_NAMES = [
  "travel", "scan", "mine", "fracture", "overheat", "hazard", "pirate", "decoy_used",
  "dock", "sale", "purchase", "repair", "jettison", "refine", "shock", "invalid",
  "destroyed", "stranded", "cash_out", "time_up",
] as const;
export const EVENT_BIT: Record<string, number> = Object.fromEntries(EVENT_NAMES.map((n, i) => [n, 1 << i]));

/** Events that "jump to the next event" stops at (travel and mining ticks are too common). */
export const NOTABLE_EVENTS = EVENT_NAMES.filter((n) => n !== "travel" && n !== "mine");
export const NOTABLE_MASK = NOTABLE_EVENTS.reduce((m, n) => m | EVENT_BIT[n], 0);

export function eventNames(flags: number): string[] {
  return EVENT_NAMES.filter((_, i) => (flags >>> i) & 1);
}

// ---- actions ------------------------------------------------------------------------------

export const A = {
  TRAVEL0: 0, HOLD: 6, BURN: 7, WIDE_SCAN: 8, FOCUSED_SCAN: 9, DEEP_SCAN: 10, LISTEN: 11, SELECT0: 12,
  MINE0: 28, STABILIZE: 31, REFINE: 32, COOLDOWN: 33, TOOL_MAINT: 34, HULL_PATCH: 35, JETTISON0: 36, DOCK: 42,
  SELL0: 43, BUY_FUEL0: 61, BUY_KIT: 64, BUY_STABILIZER: 65, BUY_DECOY: 66, OVERHAUL: 67, CASH_OUT: 68,
} as const;

/** People count neighbor and asteroid slots from 1, as /api/meta's action labels do
 * ("Travel 1" is neighbor slot 0, on key 1): the map and the reasons use this too. */
export const SLOT_BASE = 1;

/** Keyboard shortcuts of the play page: key (KeyboardEvent.key, lower case) -> action.
 * The number keys travel: key 1 is "Travel 1" (neighbor slot 0). */
export const PLAY_KEYS: Record<string, number> = {
  "1": A.TRAVEL0, "2": A.TRAVEL0 + 1, "3": A.TRAVEL0 + 2, "4": A.TRAVEL0 + 3, "5": A.TRAVEL0 + 4, "6": A.TRAVEL0 + 5,
  h: A.HOLD, e: A.BURN, w: A.WIDE_SCAN, f: A.FOCUSED_SCAN, g: A.DEEP_SCAN, l: A.LISTEN,
  z: A.MINE0, x: A.MINE0 + 1, c: A.MINE0 + 2, t: A.STABILIZE,
  r: A.REFINE, o: A.COOLDOWN, "0": A.COOLDOWN, // the letter O, and zero for those who read it so
  m: A.TOOL_MAINT, p: A.HULL_PATCH,
  k: A.DOCK, u: A.BUY_FUEL0 + 1, b: A.BUY_KIT, v: A.OVERHAUL,
  "!": A.SELL0 + 2, "@": A.SELL0 + 5, "#": A.SELL0 + 8, $: A.SELL0 + 11, "%": A.SELL0 + 14, "^": A.SELL0 + 17,
  q: A.CASH_OUT,
};
/** The key shown for an action: letters in lower case, so that the letter o never reads as zero. */
export const KEY_OF_ACTION: Record<number, string> = Object.fromEntries(
  Object.entries(PLAY_KEYS).filter(([k]) => k !== "0").map(([k, a]) => [a, k === "!" ? "⇧1" : k === "@" ? "⇧2"
    : k === "#" ? "⇧3" : k === "$" ? "⇧4" : k === "%" ? "⇧5" : k === "^" ? "⇧6" : k]),
);

/** The contract's action names by index (shared/SPEC.md; /api/meta sends the same). */
export const ACTION_NAMES: string[] = [
  ...[0, 1, 2, 3, 4, 5].map((k) => `TRAVEL_${k}`), "HOLD_DRIFT", "EMERGENCY_BURN", "WIDE_SCAN", "FOCUSED_SCAN",
  "DEEP_SCAN", "PASSIVE_THREAT_LISTEN", ...Array.from({ length: 16 }, (_, k) => `SELECT_ASTEROID_${k}`),
  "MINE_CONSERVATIVE", "MINE_STANDARD", "MINE_AGGRESSIVE", "STABILIZE", "REFINE_ONBOARD", "ACTIVE_COOLDOWN",
  "TOOL_MAINTENANCE", "HULL_PATCH", ...COMMODITIES.map((c) => `JETTISON_${c.toUpperCase()}`), "DOCK",
  ...COMMODITIES.flatMap((c) => [25, 50, 100].map((p) => `SELL_${c.toUpperCase()}_${p}`)),
  "BUY_FUEL_SMALL", "BUY_FUEL_MEDIUM", "BUY_FUEL_LARGE", "BUY_REPAIR_KIT", "BUY_STABILIZER", "BUY_DECOY",
  "FULL_REPAIR_OVERHAUL", "CASH_OUT",
];

/** The actions as people read them, by index: /api/meta's `action_labels` ("Travel 1",
 * "Select asteroid 3", "Sell PGE 25%"). Every label on the page comes from these; the app
 * loads them (setVocabulary) before it draws a page. */
export const ACTION_LABELS: string[] = [];
const LABEL_OF_NAME = new Map<string, string>();

/** Adopt the server's vocabulary (from /api/meta): its action names and their labels. */
export function setVocabulary(meta: { actions: { index: number; name: string }[]; action_labels: string[] }): void {
  for (const a of meta.actions) if (a.index >= 0 && a.index < N_ACTIONS) ACTION_NAMES[a.index] = a.name;
  ACTION_LABELS.length = 0;
  LABEL_OF_NAME.clear();
  meta.action_labels.forEach((label, i) => {
    ACTION_LABELS.push(label);
    LABEL_OF_NAME.set(ACTION_NAMES[i], label);
  });
}

export function vocabularyReady(): boolean {
  return ACTION_LABELS.length === N_ACTIONS;
}

/** The label of an action given by its contract name ("TRAVEL_0" -> "Travel 1"), as the replay
 * files and the engine's events name them; a word that is no action ("start") reads as itself. */
export function humanAction(name: string | null | undefined): string {
  if (!name) return "–";
  return LABEL_OF_NAME.get(name) ?? name.toLowerCase().replace(/_/g, " ");
}

/** An action's label (/api/meta's); a travel says where it goes when the state is known. */
export function actionLabel(index: number, state?: RawState | null): string {
  const name = ACTION_LABELS[index] ?? humanAction(ACTION_NAMES[index] ?? `ACTION_${index}`);
  if (index < 6 && state) {
    const node = neighborOf(state, index);
    if (node) return `${name} → node ${node.id} (${node.time}t)`;
  }
  return name;
}

/** The node behind neighbor slot k of the current node, with the edge's travel time. */
export function neighborOf(state: RawState, k: number): { id: number; time: number } | null {
  const here = state.nodes[state.current_node];
  if (!here || k >= here.neighbors.length) return null;
  return { id: here.neighbors[k], time: here.travel_times[k] };
}

/**
 * Why `action` is invalid in `state` (SPEC section 3, "valid when"), or null when the state
 * says nothing against it. The server decides; this only puts its verdict in words.
 */
export function invalidReason(action: number, state: RawState): string | null {
  const s = state.ship;
  const here = state.nodes[state.current_node];
  const atStation = here?.type === "station";
  const selected = state.asteroids.find((a) => a.slot === state.selected_asteroid);
  const cargoTotal = Object.values(state.cargo).reduce((a, b) => a + b, 0);
  const needSelection = "no asteroid is selected (select one first)";
  const needStation = "only at the station";
  if (action < 0 || action >= N_ACTIONS || !Number.isInteger(action)) return `there is no action ${action} (0..68)`;
  if (action < 6) return neighborOf(state, action) ? null : `this node has no neighbor in slot ${action + SLOT_BASE}`;
  if (action === A.BURN) return s.fuel > 0 ? null : "no fuel left";
  if (action === A.WIDE_SCAN) return atStation ? "wide scans work at a cluster or hazard node, not at the station" : null;
  if (action === A.FOCUSED_SCAN || action === A.DEEP_SCAN) return selected ? null : needSelection;
  if (action >= A.SELECT0 && action < A.MINE0) {
    const a = state.asteroids.find((x) => x.slot === action - A.SELECT0);
    if (!a) return `there is no asteroid in slot ${action - A.SELECT0 + SLOT_BASE} here`;
    return a.depletion >= 1 ? `asteroid ${a.slot + SLOT_BASE} is depleted` : null;
  }
  if (action >= A.MINE0 && action < A.STABILIZE) return selected ? null : needSelection;
  if (action === A.STABILIZE) {
    if (!selected) return needSelection;
    return s.stabilizers > 0 ? null : "no stabilizers left (buy them at the station)";
  }
  if (action === A.REFINE) return cargoTotal > 0 ? null : "the hold is empty";
  if (action === A.TOOL_MAINT || action === A.HULL_PATCH) {
    return s.repair_kits > 0 ? null : "no repair kits left (buy them at the station)";
  }
  if (action >= A.JETTISON0 && action < A.DOCK) {
    const c = COMMODITIES[action - A.JETTISON0];
    return (state.cargo[c] ?? 0) > 0 ? null : `no ${COMMODITY_LABEL[c]} in the hold`;
  }
  if (action >= A.DOCK && action <= A.OVERHAUL) {
    if (!atStation) return `${actionLabel(action)}: ${needStation}`;
    if (action >= A.SELL0 && action < A.BUY_FUEL0) {
      const c = COMMODITIES[Math.floor((action - A.SELL0) / 3)];
      return (state.cargo[c] ?? 0) > 0 ? null : `no ${COMMODITY_LABEL[c]} to sell`;
    }
    if (action >= A.BUY_FUEL0) return "not enough credits";
    return null;
  }
  return null;
}
