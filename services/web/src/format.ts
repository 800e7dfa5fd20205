// How numbers, events and metrics read on the page.

import { COMMODITIES, COMMODITY_LABEL, humanAction } from "./game";
import type { RawEvents } from "./types";

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A whole number, thousands grouped ("12,345"; "-80"): credits, ticks, counts. */
export function whole(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return grouped.format(Math.round(value) === 0 ? 0 : Math.round(value));
}

export const credits = whole;

/** A signed amount ("+1,200", "-35", "0"). */
export function signed(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "–";
  const fixed = Math.abs(value).toFixed(digits);
  if (Number(fixed) === 0) return (0).toFixed(digits);
  const text = digits === 0 ? grouped.format(Math.abs(Math.round(value))) : fixed;
  return (value > 0 ? "+" : "-") + text;
}

/** An amount (units of cargo, hull points) with the digits that make it meaningful:
 * 3 significant digits below 100 ("0.0412", "2.35", "41.2"), whole above ("1,204"). */
export function amount(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const a = Math.abs(value);
  if (a === 0) return "0";
  if (a >= 100) return grouped.format(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/** A compact number for chart axes and cards: 1234 -> "1.23k", 2.5e6 -> "2.50M", 0.0123 -> "0.0123". */
export function compact(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const a = Math.abs(value);
  if (a >= 1e9) return (value / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (value / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (value / 1e3).toFixed(1) + "k";
  if (a >= 1e3) return (value / 1e3).toFixed(2) + "k";
  if (a >= 100) return value.toFixed(0);
  if (a >= 1) return value.toFixed(2);
  if (a === 0) return "0";
  if (a < 0.001) return value.toExponential(1); // "4.0e-4": axis labels stay short
  return value.toPrecision(3);
}

/**
 * Labels for a chart axis's ticks that are all distinct. `format` (compact or percent) is
 * used when its labels already differ; on a very flat chart (ticks 3.081, 3.082, ...) it
 * would print "3.08 3.08", so the labels then get the decimals the tick spacing needs, in
 * the same unit: [3.081, 3.082] -> ["3.081", "3.082"], [1.2341e6, 1.2342e6] -> ["1.2341M", "1.2342M"].
 */
export function tickLabels(values: number[], format: (v: number) => string = compact): string[] {
  const plain = values.map(format);
  const repeated = plain.some((label, i) => i > 0 && label === plain[i - 1]);
  if (!repeated) return plain;
  const finite = values.filter(Number.isFinite);
  let step = Infinity;
  for (let i = 1; i < finite.length; i++) {
    const d = Math.abs(finite[i] - finite[i - 1]);
    if (d > 0 && d < step) step = d;
  }
  if (!Number.isFinite(step)) return plain; // one value, or all equal: nothing to tell apart
  const isPercent = format === percent;
  const top = Math.max(...finite.map(Math.abs));
  const [unit, suffix] = isPercent ? [0.01, "%"]
    : top >= 1e9 ? [1e9, "G"] : top >= 1e6 ? [1e6, "M"] : top >= 1e3 ? [1e3, "k"] : [1, ""];
  // enough decimals that neighbours one step apart differ (a 1e-9 slack for float noise)
  const digits = Math.min(12, Math.max(0, Math.ceil(-Math.log10(step / unit) - 1e-9)));
  return values.map((v) => {
    if (!Number.isFinite(v)) return "–";
    const text = (v / unit).toFixed(digits);
    return (Number(text) === 0 ? (0).toFixed(digits) : text) + suffix;
  });
}

export function percent(fraction: number): string {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : "–";
}

/** The price move since the previous step: ▲ up, ▼ down, • flat (within 0.05 %). */
export function priceArrow(price: number, prev: number): "▲" | "▼" | "•" {
  if (!(prev > 0)) return "•";
  const change = (price - prev) / prev;
  return change > 0.0005 ? "▲" : change < -0.0005 ? "▼" : "•";
}

/** An action name for people (the page's one vocabulary, see game.humanAction). */
export const actionName = humanAction;

/** One line about a step's events: what happened and how much. `times` > 1: the line stands
 * for that many alike steps in a row (their amounts summed, see groupLog): "sold ×12 41.2 PGE for +5,400 cr". */
export function describeEvents(ev: RawEvents, times = 1): string {
  const parts: string[] = [];
  const x = times > 1 ? ` ×${times}` : "";
  const commodity = (c: number | undefined) => COMMODITY_LABEL[COMMODITIES[c ?? 0]] ?? "?";
  for (const name of ev.names) {
    switch (name) {
      case "sale":
        parts.push(`sold${x} ${amount(ev.sale_units ?? 0)} ${commodity(ev.sale_commodity)} for ${signed(ev.sale_revenue ?? 0)} cr`);
        break;
      case "purchase":
        parts.push(`${actionName(ev.applied_action_name)}${x} for ${credits(ev.purchase_cost ?? 0)} cr`);
        break;
      case "pirate":
        parts.push(ev.pirate_loss ? `pirates${x} took ${credits(ev.pirate_loss)} cr of cargo` : `pirate attack${x}`);
        if (ev.pirate_damage) parts.push(`hull -${amount(ev.pirate_damage)}`);
        break;
      case "fracture":
        parts.push(`fracture!${x} hull -${amount(ev.fracture_damage ?? 0)}`);
        break;
      case "overheat":
        parts.push(ev.overheat_damage ? `overheat${x}, hull -${amount(ev.overheat_damage)}` : `overheat${x}`);
        break;
      case "hazard":
        parts.push(`hazard hit${x}, hull -${amount(ev.hazard_damage ?? 0)}`);
        break;
      case "scan":
        parts.push((["", "wide scan", "focused scan", "deep scan"][ev.scan_kind ?? 0] || "scan") + x);
        break;
      case "mine":
        parts.push(`mined${x} ${amount(ev.mined_units ?? 0)} u`);
        break;
      case "travel":
        parts.push(`travel ${ev.travel_from ?? "?"} → ${ev.travel_to ?? "?"}${x}`);
        break;
      case "invalid":
        parts.push(`invalid ${actionName(ev.action_name)}${x} (held instead)`);
        break;
      case "decoy_used":
        parts.push(`decoy used${x}`);
        break;
      case "cash_out":
        parts.push("cashed out");
        break;
      case "time_up":
        parts.push("time up");
        break;
      default:
        parts.push(name.replace(/_/g, " ") + x);
    }
  }
  return parts.join(", ") || "–";
}

/** One line of the event log: the newest step it stands for (`key`, `tick`), and when it
 * stands for several alike steps in a row, how many and the tick of the first. */
export interface LogLine {
  key: number;
  tick: number;
  text: string;
  count?: number;
  firstTick?: number;
}

/** A notable step for the log: its frame or step index, tick and events. */
export interface LogEntry {
  key: number;
  tick: number;
  events: RawEvents;
}

const SUMMED = ["sale_units", "sale_revenue", "purchase_cost", "mined_units", "fracture_damage", "overheat_damage",
  "hazard_damage", "pirate_damage", "pirate_loss"] as const;

/** What makes two steps "the same event" for the log: the same events, and for a sale the same
 * commodity, for a purchase or an invalid action the same action, for a scan the same kind. */
export function logGroup(ev: RawEvents): string {
  const names = ev.names.filter((n) => n !== "travel" && n !== "mine");
  const detail = [
    names.includes("sale") ? `c${ev.sale_commodity ?? 0}` : "",
    names.includes("purchase") ? String(ev.applied_action_name ?? "") : "",
    names.includes("invalid") ? String(ev.action_name ?? "") : "",
    names.includes("scan") ? `k${ev.scan_kind ?? 0}` : "",
  ];
  return [...names, ...detail].join("|");
}

/**
 * The event log, newest first: runs of alike steps in a row (logGroup) become one line with
 * the count and the summed amounts ("sold ×12 41.2 PGE for +5,400 cr", "t310–t352"), as the
 * map's labels aggregate. `entries` newest first; at most `max` lines.
 */
export function groupLog(entries: LogEntry[], max: number): LogLine[] {
  const lines: LogLine[] = [];
  let i = 0;
  while (i < entries.length && lines.length < max) {
    const head = entries[i];
    const group = logGroup(head.events);
    const summed: RawEvents = { ...head.events };
    let j = i + 1;
    while (j < entries.length && logGroup(entries[j].events) === group) {
      for (const k of SUMMED) {
        const v = entries[j].events[k];
        if (typeof v === "number") summed[k] = (summed[k] ?? 0) + v;
      }
      j++;
    }
    const count = j - i;
    lines.push({ key: head.key, tick: head.tick, text: describeEvents(summed, count),
                 ...(count > 1 ? { count, firstTick: entries[j - 1].tick } : {}) });
    i = j;
  }
  return lines;
}

/** Window metrics shown on the summary card and the analytics page: key, label, how to print. */
export interface MetricSpec {
  key: string;
  label: string;
  format: (v: number) => string;
  /** a fixed chart range (rates); otherwise the data's */
  range?: [number, number];
}

export const WINDOW_METRICS: MetricSpec[] = [
  { key: "return_mean", label: "Return (window mean)", format: compact },
  { key: "net_profit_mean", label: "Net profit (window mean)", format: compact },
  { key: "survival_rate", label: "Survival", format: percent, range: [0, 1] },
  { key: "profit_per_tick_mean", label: "Profit / tick (window mean)", format: compact },
  { key: "overheat_ticks_mean", label: "Overheat ticks", format: compact },
  { key: "pirate_encounters_mean", label: "Pirate encounters", format: compact },
  { key: "value_lost_to_pirates_mean", label: "Lost to pirates", format: compact },
  { key: "scan_count_mean", label: "Scans", format: compact },
  { key: "mining_ticks_mean", label: "Mining ticks", format: compact },
  { key: "invalid_action_rate", label: "Invalid actions", format: percent, range: [0, 1] },
  { key: "steps_per_second", label: "SPS", format: compact },
];

/** PPO's own diagnostics, charted first on /analytics (the trainer's window metrics columns). */
export const PPO_METRICS: MetricSpec[] = [
  { key: "policy_loss", label: "Policy loss", format: compact },
  { key: "value_loss", label: "Value loss", format: compact },
  { key: "entropy", label: "Entropy", format: compact },
  { key: "approx_kl", label: "Approx KL", format: compact },
  { key: "clipfrac", label: "Clip fraction", format: compact },
  { key: "explained_variance", label: "Explained variance", format: compact },
  { key: "learning_rate", label: "Learning rate", format: compact },
  { key: "steps_per_second", label: "SPS", format: compact },
];

/** Every numeric column of the windows' metrics as a chart spec: PPO's first, then the game's, then the rest. */
export function chartableMetrics(rows: { metrics: Record<string, unknown> }[]): MetricSpec[] {
  const known = [...PPO_METRICS, ...WINDOW_METRICS.filter((m) => m.key !== "steps_per_second")];
  const present = new Set<string>();
  for (const row of rows) for (const [k, v] of Object.entries(row.metrics)) if (typeof v === "number") present.add(k);
  const listed = new Set(known.map((m) => m.key));
  const rest = [...present].filter((k) => !listed.has(k)).sort()
    .map((key) => ({ key, label: key.replace(/_/g, " "), format: compact }));
  return [...known.filter((m) => present.has(m.key) || WINDOW_METRICS.includes(m)), ...rest];
}

/** A metric value of a window row as a number, or null when missing (no episode finished). */
export function metricValue(metrics: Record<string, unknown>, key: string): number | null {
  const v = metrics[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** "2026-11-22T02:19:17Z" -> "Nov 22 02:19" (UTC, as the run ids are). */
export function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const month = d.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const hh = String(d.getUTCHours()).padStart(2, "0");
  const mm = String(d.getUTCMinutes()).padStart(2, "0");
  return `${month} ${d.getUTCDate()} ${hh}:${mm}`;
}

/** Parse a tick typed by a person; null unless a whole number in 0..max. */
export function parseTick(text: string, max: number): number | null {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const n = Number(trimmed);
  return n <= max ? n : null;
}

/** Parse a seed typed by a person: empty -> null (random), else an integer in 0..2^53-1. */
export function parseSeed(text: string): number | null | "invalid" {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  if (!/^\d+$/.test(trimmed)) return "invalid";
  const n = Number(trimmed);
  return Number.isSafeInteger(n) ? n : "invalid";
}
