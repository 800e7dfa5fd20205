// How numbers, events and metrics read on the page.

import { COMMODITIES, COMMODITY_LABEL } from "./game";
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
  return value.toPrecision(3);
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

/** An action name for people: "FOCUSED_SCAN" -> "Focused scan". */
export function actionName(name: string | null | undefined): string {
  if (!name) return "–";
  const words = name.toLowerCase().split("_");
  return words.map((w, i) => (i === 0 ? w[0].toUpperCase() + w.slice(1) : w)).join(" ");
}

/** One line about a step's events: what happened and how much. */
export function describeEvents(ev: RawEvents): string {
  const parts: string[] = [];
  const commodity = (c: number | undefined) => COMMODITY_LABEL[COMMODITIES[c ?? 0]] ?? "?";
  for (const name of ev.names) {
    switch (name) {
      case "sale":
        parts.push(`sold ${(ev.sale_units ?? 0).toFixed(1)} ${commodity(ev.sale_commodity)} for ${signed(ev.sale_revenue ?? 0)} cr`);
        break;
      case "purchase":
        parts.push(`bought ${actionName(ev.applied_action_name)} for ${credits(ev.purchase_cost ?? 0)} cr`);
        break;
      case "pirate":
        parts.push(ev.pirate_loss ? `pirates took ${credits(ev.pirate_loss)} cr of cargo` : "pirate attack");
        if (ev.pirate_damage) parts.push(`hull -${ev.pirate_damage.toFixed(1)}`);
        break;
      case "fracture":
        parts.push(`fracture! hull -${(ev.fracture_damage ?? 0).toFixed(1)}`);
        break;
      case "overheat":
        parts.push(ev.overheat_damage ? `overheat, hull -${ev.overheat_damage.toFixed(1)}` : "overheat");
        break;
      case "hazard":
        parts.push(`hazard hit, hull -${(ev.hazard_damage ?? 0).toFixed(1)}`);
        break;
      case "scan":
        parts.push(["", "wide scan", "focused scan", "deep scan"][ev.scan_kind ?? 0] || "scan");
        break;
      case "mine":
        parts.push(`mined ${(ev.mined_units ?? 0).toFixed(2)} u`);
        break;
      case "travel":
        parts.push(`travel ${ev.travel_from ?? "?"} → ${ev.travel_to ?? "?"}`);
        break;
      case "invalid":
        parts.push(`invalid ${actionName(ev.action_name)} (held instead)`);
        break;
      case "decoy_used":
        parts.push("decoy used");
        break;
      case "cash_out":
        parts.push("cashed out");
        break;
      case "time_up":
        parts.push("time up");
        break;
      default:
        parts.push(name.replace(/_/g, " "));
    }
  }
  return parts.join(", ") || "–";
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
  { key: "return_mean", label: "Return", format: compact },
  { key: "net_profit_mean", label: "Net profit", format: compact },
  { key: "survival_rate", label: "Survival", format: percent, range: [0, 1] },
  { key: "profit_per_tick_mean", label: "Profit / tick", format: compact },
  { key: "overheat_ticks_mean", label: "Overheat ticks", format: compact },
  { key: "pirate_encounters_mean", label: "Pirate encounters", format: compact },
  { key: "value_lost_to_pirates_mean", label: "Lost to pirates", format: compact },
  { key: "scan_count_mean", label: "Scans", format: compact },
  { key: "mining_ticks_mean", label: "Mining ticks", format: compact },
  { key: "invalid_action_rate", label: "Invalid actions", format: percent, range: [0, 1] },
  { key: "steps_per_second", label: "SPS", format: compact },
];

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
