// The sector view, drawn on a canvas: the node graph as a map and the current node's
// asteroid field, the ship, and short-lived effects for what the last step did.
// Pure drawing: (context, size, graph, view, effects, time) in, pixels out.

import type { Graph, View } from "./decode";
import { COMMODITIES, COMMODITY_COLOR, SLOT_BASE } from "./game";
import { credits } from "./format";
import { type SpriteKey, sprite } from "./assets";

/** prefers-reduced-motion: effects are drawn still (at a fixed point of their animation), no pulse. */
export const motion = { reduced: false };

/** Draw the manifest's sprite for `key` centered at (x, y), `size` px on its long side, turned by
 * `angle` (0 = the sprite's own up); false when it is not loaded yet (draw the vector shape instead). */
export function drawSprite(ctx: CanvasRenderingContext2D, key: SpriteKey, x: number, y: number, size: number,
                           angle = 0, alpha = 1): boolean {
  const img = sprite(key);
  if (!img) return false;
  const k = size / Math.max(img.naturalWidth, img.naturalHeight);
  const w = img.naturalWidth * k;
  const h = img.naturalHeight * k;
  ctx.save();
  ctx.globalAlpha = alpha;
  ctx.translate(x, y);
  if (angle) ctx.rotate(angle);
  ctx.drawImage(img, -w / 2, -h / 2, w, h);
  ctx.restore();
  return true;
}
import type { RawAsteroid, RawEvents } from "./types";

export const EFFECT_MS = 700;

export type EffectKind =
  | "scan" | "mine" | "fracture" | "pirate" | "overheat" | "sale" | "dock" | "hazard" | "invalid" | "travel"
  | "purchase" | "repair" | "destroyed" | "decoy" | "jettison" | "refine" | "shock" | "stranded" | "cash_out"
  | "time_up";

export interface Effect {
  kind: EffectKind;
  start: number; // performance.now() ms
  text?: string;
  scanKind?: number;
  from?: number;
  to?: number;
  /** credits moved (sale, purchase, pirate loss), summed over the steps merged into this effect */
  amount?: number;
  /** how many steps' events this effect stands for (rapid sales aggregate into one) */
  count?: number;
}

/** Every event the engine reports, with the effect that shows it (null: the HUD and the log say it). */
export const EVENT_EFFECT: Record<string, EffectKind | null> = {
  travel: "travel", scan: "scan", mine: "mine", fracture: "fracture", overheat: "overheat", hazard: "hazard",
  pirate: "pirate", decoy_used: "decoy", dock: "dock", sale: "sale", purchase: "purchase", repair: "repair",
  jettison: "jettison", refine: "refine", shock: "shock", invalid: "invalid", destroyed: "destroyed",
  stranded: "stranded", cash_out: "cash_out", time_up: "time_up",
};

/** How far an effect is through its animation, clamped to 0..1: an effect started by a new
 * frame can be "younger" than the animation frame's timestamp (requestAnimationFrame's time is
 * the frame's start, performance.now() at the new frame is later), which made radii negative. */
export function effectProgress(e: Effect, now: number): number {
  if (motion.reduced) return 0.3;
  const f = (now - e.start) / EFFECT_MS;
  return f > 0 ? (f < 1 ? f : 1) : 0;
}

/** The text an effect prints over the map (summed amounts, "×3" when merged). */
export function effectText(e: Effect): string {
  const times = (e.count ?? 1) > 1 ? ` ×${e.count}` : "";
  if (e.kind === "sale") return `+${credits(e.amount ?? 0)} cr${times}`;
  if (e.kind === "purchase") return `-${credits(e.amount ?? 0)} cr${times}`;
  if (e.kind === "pirate") return e.amount ? `-${credits(e.amount)} cr` : "";
  return e.text ?? "";
}

const MERGING: EffectKind[] = ["sale", "purchase"];

/** Live effects plus a step's fresh ones; a sale or purchase while the previous one still shows
 * is merged into it (amounts summed, counted) instead of stacking a second label on top. */
export function mergeEffects(live: Effect[], fresh: Effect[]): Effect[] {
  const out = live.slice();
  for (const e of fresh) {
    const same = MERGING.includes(e.kind) ? out.findIndex((o) => o.kind === e.kind) : -1;
    if (same >= 0) {
      const o = out[same];
      out[same] = { ...o, start: e.start, amount: (o.amount ?? 0) + (e.amount ?? 0), count: (o.count ?? 1) + 1 };
    } else {
      out.push(e);
    }
  }
  return out;
}

/** The effects a step's events start at time `now` (one per event, see EVENT_EFFECT). */
export function effectsFor(events: RawEvents, now: number): Effect[] {
  const out: Effect[] = [];
  for (const name of events.names) {
    const kind = EVENT_EFFECT[name];
    if (!kind) continue;
    const e: Effect = { kind, start: now };
    if (kind === "scan") e.scanKind = events.scan_kind ?? 1;
    if (kind === "sale") e.amount = events.sale_revenue ?? 0;
    if (kind === "purchase") e.amount = events.purchase_cost ?? 0;
    if (kind === "pirate") e.amount = events.pirate_loss ?? 0;
    if (kind === "travel") { e.from = events.travel_from; e.to = events.travel_to; }
    out.push(e);
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

/** Map labels that never overlap: each is tried at its candidate spots in turn and dropped
 * when every spot collides with a label or a node already placed. Place the important first. */
export class Labels {
  readonly boxes: Rect[] = [];
  constructor(private ctx: CanvasRenderingContext2D, private bounds: Rect) {}

  /** Reserve a box (a node, the ship) that labels must keep off. */
  block(x: number, y: number, radius: number): void {
    this.boxes.push({ x: x - radius, y: y - radius, w: 2 * radius, h: 2 * radius });
  }

  fits(box: Rect): boolean {
    const b = this.bounds;
    if (box.x < b.x || box.y < b.y || box.x + box.w > b.x + b.w || box.y + box.h > b.y + b.h) return false;
    return this.boxes.every((o) => box.x >= o.x + o.w || o.x >= box.x + box.w || box.y >= o.y + o.h || o.y >= box.y + box.h);
  }

  /** Draw `text` centered at the first candidate where it fits; false when none does. */
  place(text: string, candidates: [number, number][], color: string, size = 11, _priority = 0,
        background?: string): boolean {
    if (!text) return false;
    this.ctx.font = `${size}px ui-sans-serif, system-ui, sans-serif`;
    const w = this.ctx.measureText(text).width + 4;
    const h = size + 2;
    for (const [x, y] of candidates) {
      const box = { x: x - w / 2, y: y - h / 2, w, h };
      if (!this.fits(box)) continue;
      this.boxes.push(box);
      if (background) {
        this.ctx.fillStyle = background;
        this.ctx.fillRect(box.x, box.y, box.w, box.h);
      }
      label(this.ctx, text, x, y, color, size);
      return true;
    }
    return false;
  }
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
  const weights: { hot: boolean; text: string; x1: number; y1: number; x2: number; y2: number }[] = [];
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
      weights.push({ hot, text: String(n.travel_times[k]), x1, y1, x2, y2 });
    });
  }
  // labels, most important first, none on top of another: effects on the station, threat
  // of the neighbors, the travel times of the current node's edges, node ids, other edges
  const labels = new Labels(ctx, { x: r.x + 2, y: r.y + 20, w: r.w - 4, h: r.h - 22 });
  for (const n of graph.nodes) labels.block(pos[n.id][0], pos[n.id][1], n.id === here ? 13 : 8);
  // threat halos on the current node's neighbors
  hereNode?.neighbors.forEach((m) => {
    const threat = view.threat[m] ?? 0;
    const [x, y] = pos[m];
    ctx.fillStyle = `rgba(${C.threat},${0.12 + 0.5 * threat})`;
    ctx.beginPath();
    ctx.arc(x, y, 11 + 12 * threat, 0, Math.PI * 2);
    ctx.fill();
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
  }
  // the ship: at the current node, or flying along the edge it just took
  const travel = effects.find((e) => e.kind === "travel" && e.from !== undefined && e.to !== undefined);
  let [sx, sy] = pos[here] ?? [r.x + r.w / 2, r.y + r.h / 2];
  let angle = -Math.PI / 2;
  if (travel && pos[travel.from!] && pos[travel.to!]) {
    const f = effectProgress(travel, now);
    const [ax, ay] = pos[travel.from!];
    const [bx, by] = pos[travel.to!];
    sx = ax + (bx - ax) * f;
    sy = ay + (by - ay) * f;
    angle = Math.atan2(by - ay, bx - ax);
  }
  const pulse = motion.reduced ? 0.6 : 0.5 + 0.5 * Math.sin(now / 300);
  ctx.strokeStyle = `rgba(255,255,255,${0.35 + 0.4 * pulse})`;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(pos[here][0], pos[here][1], 13, 0, Math.PI * 2);
  ctx.stroke();
  shipShape(ctx, sx + 14, sy - 14, angle, 7);
  labels.block(pos[here][0] + 14, pos[here][1] - 14, 9);
  // station effects
  const [stx, sty] = pos[0];
  for (const e of effects) {
    const f = effectProgress(e, now);
    if (e.kind === "sale" || e.kind === "purchase") {
      const y = sty - 24 - 16 * f - (e.kind === "purchase" ? 16 : 0); // sales and purchases on their own lines
      if (e.kind === "sale") drawSprite(ctx, "fx.sale", stx, sty, 16 + 14 * f, f * Math.PI, 0.9 * (1 - f * 0.7));
      labels.place(effectText(e), [[stx, y], [stx, y - 16]], e.kind === "sale" ? C.good : C.warn, 13, 100);
    } else if (e.kind === "dock") {
      drawSprite(ctx, "fx.dock", stx, sty, 28 + 16 * f, 0, 0.8 * (1 - f));
      ctx.strokeStyle = `rgba(79,209,255,${1 - f})`;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(stx, sty, Math.max(0, 10 + 18 * f), 0, Math.PI * 2);
      ctx.stroke();
    }
  }
  hereNode?.neighbors.forEach((m) => {
    const [x, y] = pos[m];
    const threat = view.threat[m] ?? 0;
    const text = `${Math.round(threat * 100)}%`;
    labels.place(text, [[x, y + 21], [x, y - 21], [x + 24, y], [x - 24, y]], `rgba(${C.threat},1)`, 10);
  });
  const edgeLabel = (w: (typeof weights)[number]) => {
    const mx = (w.x1 + w.x2) / 2;
    const my = (w.y1 + w.y2) / 2;
    const dx = w.x2 - w.x1;
    const dy = w.y2 - w.y1;
    const len = Math.hypot(dx, dy) || 1;
    const [nx, ny] = [-dy / len * 9, dx / len * 9]; // beside the edge when its middle is taken
    labels.place(w.text, [[mx, my], [mx + nx, my + ny], [mx - nx, my - ny]], w.hot ? C.text : C.dim,
                 w.hot ? 10 : 9, 0, C.panel);
  };
  weights.filter((w) => w.hot).forEach(edgeLabel);
  for (const n of graph.nodes) {
    const [x, y] = pos[n.id];
    labels.place(String(n.id), [[x + 11, y - 9], [x - 11, y - 9], [x + 11, y + 9], [x - 11, y + 9]], C.dim, 9);
  }
  weights.filter((w) => !w.hot).forEach(edgeLabel);
}

function drawAsteroid(ctx: CanvasRenderingContext2D, a: RawAsteroid, x: number, y: number, size: number): void {
  const spent = a.depletion >= 1;
  const r = size * (0.45 + 0.55 * Math.max(0, 1 - a.depletion));
  // the rock behind its composition pie (the pie carries the numbers; the sprite is the look)
  const iron = (a.composition.iron ?? 0) + (a.composition.nickel ?? 0) > 0.5;
  drawSprite(ctx, spent ? "asteroid.spent" : r > size * 0.75 ? (iron ? "asteroid.large.iron_rich" : "asteroid.large") : "asteroid.medium",
             x, y, r * 3, a.slot * 0.7, spent ? 0.35 : 0.55);
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
  const number = a.slot + SLOT_BASE; // as "Select asteroid N" counts them
  label(ctx, spent ? `${number} spent` : String(number), x, y + r + 16, a.selected ? "#fff" : C.dim, 10);
}

const ENDINGS: EffectKind[] = ["destroyed", "stranded", "cash_out", "time_up"];
const ENDING_RANK = (e: Effect) => (ENDINGS.includes(e.kind) ? 1 : 0);

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
    if (!drawSprite(ctx, "station", cx, cy, Math.min(r.w, r.h) * 0.34, 0, 0.85)) {
      nodeShape(ctx, "station", cx, cy, Math.min(r.w, r.h) * 0.16);
      ctx.strokeStyle = C.station;
      ctx.lineWidth = 3;
      ctx.stroke();
    }
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
  // effect texts never cover one another (the ending first, then the newest)
  const texts = new Labels(ctx, { x: r.x + 2, y: r.y + 20, w: r.w - 4, h: r.h - 22 });
  texts.block(cx, cy, 16); // the ship
  if (type === "station") {
    const y = cy + Math.min(r.w, r.h) * 0.16 + 24; // "Station: sell, refuel, ..."
    texts.boxes.push({ x: cx - 130, y: y - 8, w: 260, h: 16 });
  }
  const ordered = effects.slice().sort((a, b) => ENDING_RANK(b) - ENDING_RANK(a) || b.start - a.start);
  const say = (text: string, x: number, y: number, color: string, size: number) =>
    texts.place(text, [[x, y], [x, y - size - 6], [x, y + size + 6], [x, y - 2 * (size + 6)], [x, y + 2 * (size + 6)]], color, size);
  for (const e of ordered) {
    const f = effectProgress(e, now);
    switch (e.kind) {
      case "scan": {
        const [tx, ty] = e.scanKind === 1 || !target ? [cx, cy] : target;
        const reach = e.scanKind === 1 ? Math.min(r.w, r.h) * 0.5 : size * 2.2;
        if (e.scanKind === 1 || !target) {
          // a wide scan: short beams sweeping out from the ship in every direction
          for (let i = 0; i < 6; i++) {
            const a = (i / 6) * Math.PI * 2 + f * 0.6;
            const d = 18 + reach * 0.6 * f;
            drawSprite(ctx, "beam.scan", cx + Math.cos(a) * d, cy + Math.sin(a) * d, 14, a + Math.PI / 2, 0.8 * (1 - f));
          }
        } else {
          // a focused or deep scan: the beam from the ship to the selected asteroid
          const beam = Math.hypot(tx - cx, ty - cy);
          drawSprite(ctx, "beam.scan", (cx + tx) / 2, (cy + ty) / 2, Math.max(8, beam - 20),
                     Math.atan2(ty - cy, tx - cx) + Math.PI / 2, 0.85 * (1 - f));
        }
        ctx.strokeStyle = `rgba(120,200,255,${1 - f})`;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(tx, ty, Math.max(0, 6 + reach * f), 0, Math.PI * 2);
        ctx.stroke();
        break;
      }
      case "mine":
        if (target) {
          drawSprite(ctx, "beam.mine", (cx + target[0]) / 2, (cy + target[1]) / 2, 16, Math.atan2(target[1] - cy, target[0] - cx) + Math.PI / 2, 0.6 * (1 - f));
          ctx.strokeStyle = `rgba(255,220,120,${0.9 - 0.6 * f})`;
          ctx.lineWidth = 3;
          ctx.setLineDash([6, 4]);
          ctx.lineDashOffset = motion.reduced ? 0 : -now / 20; // reduced motion: the beam stands still
          ctx.beginPath();
          ctx.moveTo(cx, cy);
          ctx.lineTo(target[0], target[1]);
          ctx.stroke();
          ctx.setLineDash([]);
        }
        break;
      case "fracture": {
        const [tx, ty] = target ?? [cx, cy];
        drawSprite(ctx, "fx.fracture", tx, ty, size * (1.6 + 2.4 * f), f * 2, 1 - f);
        ctx.strokeStyle = `rgba(255,140,60,${1 - f})`;
        ctx.lineWidth = 2;
        for (let i = 0; i < 10; i++) {
          const a = (i / 10) * Math.PI * 2;
          ctx.beginPath();
          ctx.moveTo(tx + Math.cos(a) * size * (0.6 + f), ty + Math.sin(a) * size * (0.6 + f));
          ctx.lineTo(tx + Math.cos(a) * size * (1 + 2.2 * f), ty + Math.sin(a) * size * (1 + 2.2 * f));
          ctx.stroke();
        }
        say("FRACTURE", tx, ty - size * 2.4, `rgba(255,140,60,${1 - f})`, 12);
        break;
      }
      case "pirate":
        drawSprite(ctx, "pirate", cx + r.w * 0.3 * (1 - f), cy - r.h * 0.3, 26, Math.PI, 1 - f * 0.5);
        ctx.strokeStyle = `rgba(255,60,80,${1 - f})`;
        ctx.lineWidth = 6;
        roundRect(ctx, { x: r.x + 3, y: r.y + 3, w: r.w - 6, h: r.h - 6 }, 8);
        ctx.stroke();
        say(`PIRATES ${effectText(e)}`, cx, r.y + 32, `rgba(255,93,108,${1 - f * 0.5})`, 14);
        break;
      case "hazard":
        drawSprite(ctx, "hazard", cx - 24 + 10 * f, cy - 20, 16, f * 3, 1 - f);
        ctx.fillStyle = `rgba(255,230,90,${1 - f})`;
        for (let i = 0; i < 14; i++) {
          const a = i * 2.39996;
          const d = 12 + 40 * f * ((i % 5) / 5 + 0.4);
          ctx.fillRect(cx + Math.cos(a) * d, cy + Math.sin(a) * d, 2.5, 2.5);
        }
        break;
      case "overheat":
        drawSprite(ctx, "fx.overheat", cx, cy + 22, 18, Math.PI, 1 - f);
        ctx.fillStyle = `rgba(255,90,30,${0.55 * (1 - f)})`;
        ctx.beginPath();
        ctx.arc(cx, cy, Math.max(0, 18 + 20 * f), 0, Math.PI * 2);
        ctx.fill();
        say("OVERHEAT", cx, cy + 34, `rgba(255,140,60,${1 - f * 0.5})`, 12);
        break;
      case "invalid":
        say("invalid action (held)", cx, cy - 30, `rgba(200,200,220,${1 - f * 0.6})`, 12);
        break;
      case "repair":
        say("repaired", cx, cy - 30 - 10 * f, C.good, 12);
        break;
      case "destroyed":
        say("DESTROYED", cx, cy - 30, C.bad, 18);
        break;
      case "stranded":
        say("STRANDED: out of fuel", cx, cy - 30, C.warn, 16);
        break;
      case "cash_out":
        say("CASHED OUT", cx, cy - 30, C.good, 16);
        break;
      case "time_up":
        say("TIME UP", cx, cy - 30, C.text, 16);
        break;
      case "decoy":
        ctx.strokeStyle = `rgba(180,160,255,${1 - f})`;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(cx - 30 * f, cy + 20 * f, Math.max(0, 4 + 8 * f), 0, Math.PI * 2);
        ctx.stroke();
        say("decoy", cx - 30, cy + 40, `rgba(180,160,255,${1 - f * 0.6})`, 11);
        break;
      case "jettison":
        ctx.fillStyle = `rgba(200,200,220,${1 - f})`;
        for (let i = 0; i < 6; i++) ctx.fillRect(cx - 14 - 30 * f - i * 3, cy + 6 + i * 4 * f, 3, 3);
        break;
      case "refine":
        say("refined", cx, cy + 34 + 8 * f, `rgba(123,216,143,${1 - f * 0.6})`, 12);
        break;
      case "shock":
        say("MARKET SHOCK", cx, r.y + r.h - 16, `rgba(255,179,71,${1 - f * 0.5})`, 12);
        break;
    }
  }
  if (!drawSprite(ctx, "ship", cx, cy, 30, angle + Math.PI / 2)) shipShape(ctx, cx, cy, angle, 11);
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
