// The sector view, drawn on a canvas: the node graph as a map and the current node's
// asteroid field, the ship, and short-lived effects for what the last step did.
// Pure drawing: (context, size, graph, view, effects, time) in, pixels out.

import type { Graph, View } from "./decode";
import { COMMODITIES, COMMODITY_COLOR } from "./game";
import { credits } from "./format";
import type { RawAsteroid, RawEvents } from "./types";

export const EFFECT_MS = 700;

export type EffectKind =
  | "scan" | "mine" | "fracture" | "pirate" | "overheat" | "sale" | "dock" | "hazard" | "invalid" | "travel"
  | "purchase" | "repair" | "destroyed";

export interface Effect {
  kind: EffectKind;
  start: number; // performance.now() ms
  text?: string;
  scanKind?: number;
  from?: number;
  to?: number;
}

/** The effects a step's events start at time `now`. */
export function effectsFor(events: RawEvents, now: number): Effect[] {
  const out: Effect[] = [];
  for (const name of events.names) {
    switch (name) {
      case "scan": out.push({ kind: "scan", start: now, scanKind: events.scan_kind ?? 1 }); break;
      case "mine": out.push({ kind: "mine", start: now }); break;
      case "fracture": out.push({ kind: "fracture", start: now }); break;
      case "pirate": out.push({ kind: "pirate", start: now, text: events.pirate_loss ? `-${credits(events.pirate_loss)} cr` : "" }); break;
      case "overheat": out.push({ kind: "overheat", start: now }); break;
      case "sale": out.push({ kind: "sale", start: now, text: `+${credits(events.sale_revenue ?? 0)} cr` }); break;
      case "dock": out.push({ kind: "dock", start: now }); break;
      case "hazard": out.push({ kind: "hazard", start: now }); break;
      case "invalid": out.push({ kind: "invalid", start: now }); break;
      case "purchase": out.push({ kind: "purchase", start: now, text: `-${credits(events.purchase_cost ?? 0)} cr` }); break;
      case "repair": out.push({ kind: "repair", start: now }); break;
      case "destroyed": out.push({ kind: "destroyed", start: now }); break;
      case "travel": out.push({ kind: "travel", start: now, from: events.travel_from, to: events.travel_to }); break;
    }
  }
  return out;
}

export function liveEffects(effects: Effect[], now: number): Effect[] {
  return effects.filter((e) => now - e.start < EFFECT_MS);
}

const C = {
  bg: "#0b1020", panel: "#0f1730", edge: "#2a3a66", edgeHot: "#7f9cff", text: "#c8d3f5", dim: "#6c7aa6",
  station: "#4fd1ff", cluster: "#f0b35a", hazard: "#ff5d6c", ship: "#ffffff", threat: "255,80,96",
  good: "#5be49b", bad: "#ff5d6c", warn: "#ffb347",
};

interface Rect { x: number; y: number; w: number; h: number }

export function layout(width: number, height: number): { map: Rect; field: Rect } {
  const gap = 8;
  if (width >= height * 1.25) {
    const mw = Math.round(width * 0.56);
    return { map: { x: 0, y: 0, w: mw - gap / 2, h: height }, field: { x: mw + gap / 2, y: 0, w: width - mw - gap / 2, h: height } };
  }
  const mh = Math.round(height * 0.55);
  return { map: { x: 0, y: 0, w: width, h: mh - gap / 2 }, field: { x: 0, y: mh + gap / 2, w: width, h: height - mh - gap / 2 } };
}

/** Where node `id` is drawn inside `r` (the graph's bounding box scaled with a margin). */
export function nodePosition(graph: Graph, id: number, r: Rect): [number, number] {
  const n = graph.nodes[id];
  const pad = 28;
  const sx = (r.w - 2 * pad) / Math.max(1, graph.maxX - graph.minX);
  const sy = (r.h - 2 * pad - 14) / Math.max(1, graph.maxY - graph.minY);
  const s = Math.min(sx, sy);
  const ox = r.x + (r.w - s * (graph.maxX - graph.minX)) / 2;
  const oy = r.y + 14 + (r.h - 14 - s * (graph.maxY - graph.minY)) / 2;
  return [ox + (n.x - graph.minX) * s, oy + (n.y - graph.minY) * s];
}

/** Where asteroid slot `slot` sits in the field `r`: two ellipses around the ship (6 inside, 10 outside). */
export function asteroidPosition(slot: number, r: Rect): [number, number] {
  const cx = r.x + r.w / 2;
  const cy = r.y + r.h / 2 + 8;
  const inner = slot < 6;
  const k = inner ? slot : slot - 6;
  const n = inner ? 6 : 10;
  const angle = (k / n) * Math.PI * 2 - Math.PI / 2 + (inner ? 0 : Math.PI / 10);
  const scale = inner ? 0.22 : 0.4;
  return [cx + Math.cos(angle) * r.w * scale, cy + Math.sin(angle) * (r.h - 40) * scale];
}

/** The drawn radius of a fresh asteroid in the field `r`. */
export function asteroidSize(r: Rect): number {
  return Math.max(7, Math.min(r.w, r.h) * 0.052);
}

function roundRect(ctx: CanvasRenderingContext2D, r: Rect, radius: number): void {
  ctx.beginPath();
  ctx.roundRect(r.x, r.y, r.w, r.h, radius);
}

function label(ctx: CanvasRenderingContext2D, text: string, x: number, y: number, color: string, size = 11,
               align: CanvasTextAlign = "center"): void {
  ctx.font = `${size}px ui-sans-serif, system-ui, sans-serif`;
  ctx.textAlign = align;
  ctx.textBaseline = "middle";
  ctx.fillStyle = color;
  ctx.fillText(text, x, y);
}

function nodeShape(ctx: CanvasRenderingContext2D, type: string, x: number, y: number, size: number): void {
  ctx.beginPath();
  if (type === "station") {
    for (let i = 0; i < 6; i++) {
      const a = (i / 6) * Math.PI * 2;
      ctx[i ? "lineTo" : "moveTo"](x + Math.cos(a) * size * 1.2, y + Math.sin(a) * size * 1.2);
    }
    ctx.closePath();
  } else if (type === "hazard") {
    ctx.moveTo(x, y - size * 1.2);
    ctx.lineTo(x + size * 1.1, y + size * 0.8);
    ctx.lineTo(x - size * 1.1, y + size * 0.8);
    ctx.closePath();
  } else {
    ctx.arc(x, y, size, 0, Math.PI * 2);
  }
}

function shipShape(ctx: CanvasRenderingContext2D, x: number, y: number, angle: number, size: number): void {
  ctx.save();
  ctx.translate(x, y);
  ctx.rotate(angle);
  ctx.beginPath();
  ctx.moveTo(size, 0);
  ctx.lineTo(-size * 0.7, size * 0.6);
  ctx.lineTo(-size * 0.35, 0);
  ctx.lineTo(-size * 0.7, -size * 0.6);
  ctx.closePath();
  ctx.fillStyle = C.ship;
  ctx.fill();
  ctx.restore();
}

const typeColor = (type: string) => (type === "station" ? C.station : type === "hazard" ? C.hazard : C.cluster);

function drawMap(ctx: CanvasRenderingContext2D, r: Rect, graph: Graph, view: View, effects: Effect[], now: number): void {
  ctx.fillStyle = C.panel;
  roundRect(ctx, r, 8);
  ctx.fill();
  label(ctx, "Sector map", r.x + 10, r.y + 12, C.dim, 11, "left");
  const pos = graph.nodes.map((_, i) => nodePosition(graph, i, r));
  const here = view.current_node;
  const hereNode = graph.nodes[here];
  // edges, each once; the current node's brighter
  for (const n of graph.nodes) {
    n.neighbors.forEach((m, k) => {
      if (m < n.id) return;
      const hot = n.id === here || m === here;
      const [x1, y1] = pos[n.id];
      const [x2, y2] = pos[m];
      ctx.strokeStyle = hot ? C.edgeHot : C.edge;
      ctx.lineWidth = hot ? 1.6 : 1;
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
      ctx.stroke();
      const mx = (x1 + x2) / 2;
      const my = (y1 + y2) / 2;
      ctx.fillStyle = C.panel;
      ctx.fillRect(mx - 7, my - 6, 14, 12);
      label(ctx, String(n.travel_times[k]), mx, my, hot ? C.text : C.dim, hot ? 10 : 9);
    });
  }
  // threat halos on the current node's neighbors
  hereNode?.neighbors.forEach((m) => {
    const threat = view.threat[m] ?? 0;
    const [x, y] = pos[m];
    ctx.fillStyle = `rgba(${C.threat},${0.12 + 0.5 * threat})`;
    ctx.beginPath();
    ctx.arc(x, y, 11 + 12 * threat, 0, Math.PI * 2);
    ctx.fill();
    label(ctx, `${Math.round(threat * 100)}%`, x, y + 22, `rgba(${C.threat},1)`, 10);
  });
  // nodes
  for (const n of graph.nodes) {
    const [x, y] = pos[n.id];
    const color = typeColor(n.type);
    nodeShape(ctx, n.type, x, y, n.id === here ? 8 : 6.5);
    if (view.visited[n.id] || n.type === "station") {
      ctx.fillStyle = color;
      ctx.fill();
    } else {
      ctx.fillStyle = C.panel;
      ctx.fill();
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    label(ctx, String(n.id), x + 11, y - 9, C.dim, 9);
  }
  // the ship: at the current node, or flying along the edge it just took
  const travel = effects.find((e) => e.kind === "travel" && e.from !== undefined && e.to !== undefined);
  let [sx, sy] = pos[here] ?? [r.x + r.w / 2, r.y + r.h / 2];
  let angle = -Math.PI / 2;
  if (travel && pos[travel.from!] && pos[travel.to!]) {
    const f = Math.min(1, (now - travel.start) / EFFECT_MS);
    const [ax, ay] = pos[travel.from!];
    const [bx, by] = pos[travel.to!];
    sx = ax + (bx - ax) * f;
    sy = ay + (by - ay) * f;
    angle = Math.atan2(by - ay, bx - ax);
  }
  const pulse = 0.5 + 0.5 * Math.sin(now / 300);
  ctx.strokeStyle = `rgba(255,255,255,${0.35 + 0.4 * pulse})`;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(pos[here][0], pos[here][1], 13, 0, Math.PI * 2);
  ctx.stroke();
  shipShape(ctx, sx + 14, sy - 14, angle, 7);
  // station effects
  const [stx, sty] = pos[0];
  for (const e of effects) {
    const f = (now - e.start) / EFFECT_MS;
    if (e.kind === "sale" || e.kind === "purchase") {
      label(ctx, e.text ?? "", stx, sty - 18 - 20 * f, e.kind === "sale" ? C.good : C.warn, 13);
    } else if (e.kind === "dock") {
      ctx.strokeStyle = `rgba(79,209,255,${1 - f})`;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(stx, sty, 10 + 18 * f, 0, Math.PI * 2);
      ctx.stroke();
    }
  }
}

function drawAsteroid(ctx: CanvasRenderingContext2D, a: RawAsteroid, x: number, y: number, size: number): void {
  const spent = a.depletion >= 1;
  const r = size * (0.45 + 0.55 * Math.max(0, 1 - a.depletion));
  ctx.globalAlpha = spent ? 0.35 : 0.45 + 0.55 * a.confidence;
  let angle = -Math.PI / 2;
  for (const c of COMMODITIES) {
    const share = a.composition[c] ?? 0;
    if (share <= 0) continue;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.arc(x, y, r, angle, angle + share * Math.PI * 2);
    ctx.closePath();
    ctx.fillStyle = spent ? "#555d75" : COMMODITY_COLOR[c];
    ctx.fill();
    angle += share * Math.PI * 2;
  }
  ctx.globalAlpha = 1;
  // scan confidence: the arc of a thin ring (a full ring is certainty)
  ctx.strokeStyle = "rgba(255,255,255,0.18)";
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.arc(x, y, r + 5, 0, Math.PI * 2);
  ctx.stroke();
  ctx.strokeStyle = "#e8ecff";
  ctx.beginPath();
  ctx.arc(x, y, r + 5, -Math.PI / 2, -Math.PI / 2 + a.confidence * Math.PI * 2);
  ctx.stroke();
  if (a.selected) {
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    const s = r + 11;
    for (const [dx, dy] of [[-1, -1], [1, -1], [1, 1], [-1, 1]]) {
      ctx.beginPath();
      ctx.moveTo(x + dx * s, y + dy * (s - 6));
      ctx.lineTo(x + dx * s, y + dy * s);
      ctx.lineTo(x + dx * (s - 6), y + dy * s);
      ctx.stroke();
    }
  }
  label(ctx, spent ? `${a.slot} spent` : String(a.slot), x, y + r + 16, a.selected ? "#fff" : C.dim, 10);
}

function drawField(ctx: CanvasRenderingContext2D, r: Rect, graph: Graph, view: View, effects: Effect[], now: number): void {
  ctx.fillStyle = C.panel;
  roundRect(ctx, r, 8);
  ctx.fill();
  const node = graph.nodes[view.current_node];
  const type = node?.type ?? "?";
  const title = type === "station" ? `Node ${view.current_node} · station`
    : `Node ${view.current_node} · ${type} · ${view.asteroids.length} asteroids`;
  label(ctx, title, r.x + 10, r.y + 12, C.dim, 11, "left");
  const cx = r.x + r.w / 2;
  const cy = r.y + r.h / 2 + 8;
  const size = asteroidSize(r);
  if (type === "station") {
    nodeShape(ctx, "station", cx, cy, Math.min(r.w, r.h) * 0.16);
    ctx.strokeStyle = C.station;
    ctx.lineWidth = 3;
    ctx.stroke();
    label(ctx, "Station: sell, refuel, repair, restock", cx, cy + Math.min(r.w, r.h) * 0.16 + 24, C.text, 12);
  }
  for (const a of view.asteroids) {
    const [x, y] = asteroidPosition(a.slot, r);
    drawAsteroid(ctx, a, x, y, size);
  }
  const selected = view.asteroids.find((a) => a.slot === view.selected_asteroid);
  const target = selected ? asteroidPosition(selected.slot, r) : null;
  const angle = target ? Math.atan2(target[1] - cy, target[0] - cx) : -Math.PI / 2;
  const heatGlow = view.ship.heat / 100;
  if (heatGlow > 0.5) {
    ctx.fillStyle = `rgba(255,120,40,${(heatGlow - 0.5) * 0.8})`;
    ctx.beginPath();
    ctx.arc(cx, cy, 16, 0, Math.PI * 2);
    ctx.fill();
  }
  for (const e of effects) {
    const f = Math.min(1, (now - e.start) / EFFECT_MS);
    switch (e.kind) {
      case "scan": {
        const [tx, ty] = e.scanKind === 1 || !target ? [cx, cy] : target;
        const reach = e.scanKind === 1 ? Math.min(r.w, r.h) * 0.5 : size * 2.2;
        ctx.strokeStyle = `rgba(120,200,255,${1 - f})`;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(tx, ty, 6 + reach * f, 0, Math.PI * 2);
        ctx.stroke();
        break;
      }
      case "mine":
        if (target) {
          ctx.strokeStyle = `rgba(255,220,120,${0.9 - 0.6 * f})`;
          ctx.lineWidth = 3;
          ctx.setLineDash([6, 4]);
          ctx.lineDashOffset = -now / 20;
          ctx.beginPath();
          ctx.moveTo(cx, cy);
          ctx.lineTo(target[0], target[1]);
          ctx.stroke();
          ctx.setLineDash([]);
        }
        break;
      case "fracture": {
        const [tx, ty] = target ?? [cx, cy];
        ctx.strokeStyle = `rgba(255,140,60,${1 - f})`;
        ctx.lineWidth = 2;
        for (let i = 0; i < 10; i++) {
          const a = (i / 10) * Math.PI * 2;
          ctx.beginPath();
          ctx.moveTo(tx + Math.cos(a) * size * (0.6 + f), ty + Math.sin(a) * size * (0.6 + f));
          ctx.lineTo(tx + Math.cos(a) * size * (1 + 2.2 * f), ty + Math.sin(a) * size * (1 + 2.2 * f));
          ctx.stroke();
        }
        label(ctx, "FRACTURE", tx, ty - size * 2.4, `rgba(255,140,60,${1 - f})`, 12);
        break;
      }
      case "pirate":
        ctx.strokeStyle = `rgba(255,60,80,${1 - f})`;
        ctx.lineWidth = 6;
        roundRect(ctx, { x: r.x + 3, y: r.y + 3, w: r.w - 6, h: r.h - 6 }, 8);
        ctx.stroke();
        label(ctx, `PIRATES ${e.text ?? ""}`, cx, r.y + 32, `rgba(255,93,108,${1 - f * 0.5})`, 14);
        break;
      case "hazard":
        ctx.fillStyle = `rgba(255,230,90,${1 - f})`;
        for (let i = 0; i < 14; i++) {
          const a = i * 2.39996;
          const d = 12 + 40 * f * ((i % 5) / 5 + 0.4);
          ctx.fillRect(cx + Math.cos(a) * d, cy + Math.sin(a) * d, 2.5, 2.5);
        }
        break;
      case "overheat":
        ctx.fillStyle = `rgba(255,90,30,${0.55 * (1 - f)})`;
        ctx.beginPath();
        ctx.arc(cx, cy, 18 + 20 * f, 0, Math.PI * 2);
        ctx.fill();
        label(ctx, "OVERHEAT", cx, cy + 34, `rgba(255,140,60,${1 - f * 0.5})`, 12);
        break;
      case "invalid":
        label(ctx, "invalid action (held)", cx, cy - 30, `rgba(200,200,220,${1 - f * 0.6})`, 12);
        break;
      case "repair":
        label(ctx, "repaired", cx, cy - 30 - 10 * f, C.good, 12);
        break;
      case "destroyed":
        label(ctx, "DESTROYED", cx, cy - 30, C.bad, 18);
        break;
    }
  }
  shipShape(ctx, cx, cy, angle, 11);
}

/** True when the view's node indices (current node, threat, visited, hops) are the graph's. */
export function viewFitsGraph(graph: Graph, view: View): boolean {
  const n = graph.nodes.length;
  return view.current_node >= 0 && view.current_node < n && view.threat.length === n
    && view.visited.length === n && view.hops.length === n;
}

export function drawSector(ctx: CanvasRenderingContext2D, width: number, height: number, graph: Graph, view: View,
                           effects: Effect[], now: number): void {
  ctx.fillStyle = C.bg;
  ctx.fillRect(0, 0, width, height);
  // While a new replay loads, its graph can arrive a moment before its first frame: a view
  // of another belt is not drawn on this one (the next frame redraws).
  if (!viewFitsGraph(graph, view)) return;
  const { map, field } = layout(width, height);
  drawMap(ctx, map, graph, view, effects, now);
  drawField(ctx, field, graph, view, effects, now);
}
