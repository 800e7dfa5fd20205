import { describe, expect, it } from "vitest";
import { decodeFrame, graphOf } from "../src/decode";
import { viewFitsGraph } from "../src/sector";
import { rawFrame } from "./fixtures";

describe("the sector view", () => {
  it("draws a view only on the graph of its own belt", () => {
    const raw = rawFrame(4);
    const graph = graphOf(raw.state.nodes);
    const view = decodeFrame(raw).view;
    expect(viewFitsGraph(graph, view)).toBe(true);
    // a new replay's graph (another belt, more nodes) before its first frame arrived
    const bigger = graphOf([...raw.state.nodes, { ...raw.state.nodes[1], id: 3 }]);
    expect(viewFitsGraph(bigger, view)).toBe(false);
    expect(viewFitsGraph(graph, { ...view, current_node: graph.nodes.length })).toBe(false);
  });
});

describe("effects", () => {
  it("has an effect for every event the engine reports (a missing key fails here)", async () => {
    const { EVENT_NAMES } = await import("../src/game");
    const { EVENT_EFFECT } = await import("../src/sector");
    for (const name of EVENT_NAMES) expect(EVENT_EFFECT[name], name).toBeTruthy();
  });

  it("clamps the animation fraction: an effect younger than the frame's clock is at 0, never negative", async () => {
    const { effectProgress, EFFECT_MS } = await import("../src/sector");
    expect(effectProgress({ kind: "scan", start: 1000 }, 990)).toBe(0);
    expect(effectProgress({ kind: "scan", start: 1000 }, 1000 + EFFECT_MS * 3)).toBe(1);
    expect(effectProgress({ kind: "scan", start: 1000 }, 1000 + EFFECT_MS / 2)).toBeCloseTo(0.5);
  });

  it("aggregates rapid sales into one label with the summed amount", async () => {
    const { effectsFor, effectText, mergeEffects } = await import("../src/sector");
    const sale = (revenue: number, now: number) =>
      effectsFor({ names: ["sale"], flags: 0, sale_revenue: revenue, sale_units: 1 }, now);
    let live = mergeEffects([], sale(6, 0));
    live = mergeEffects(live, sale(10, 50));
    live = mergeEffects(live, sale(1200, 90));
    expect(live.filter((e) => e.kind === "sale")).toHaveLength(1);
    expect(effectText(live[0])).toBe("+1,216 cr ×3");
  });
});

describe("map labels", () => {
  it("never overlap: a label takes its next free spot, or is dropped", async () => {
    const { Labels } = await import("../src/sector");
    const drawn: [string, number, number][] = [];
    const ctx = {
      font: "", textAlign: "", textBaseline: "", fillStyle: "",
      measureText: (t: string) => ({ width: t.length * 6 }),
      fillText: (t: string, x: number, y: number) => drawn.push([t, x, y]),
      fillRect: () => {},
    } as unknown as CanvasRenderingContext2D;
    const labels = new Labels(ctx, { x: 0, y: 0, w: 200, h: 200 });
    labels.block(100, 100, 8); // a node
    expect(labels.place("25%", [[100, 100], [100, 121]], "red")).toBe(true); // the node's spot is taken: below it
    expect(labels.place("7", [[100, 121], [130, 121]], "red")).toBe(true);
    expect(labels.place("3", [[100, 121], [130, 121]], "red")).toBe(false);
    expect(drawn.map(([t, x, y]) => `${t}@${x},${y}`)).toEqual(["25%@100,121", "7@130,121"]);
  });
});

describe("sprites of the effects", () => {
  /** An Image that is loaded at once, and a 2D context that records the sprites drawn (by file). */
  function fakeCanvas() {
    (globalThis as Record<string, unknown>).Image = class {
      complete = true; naturalWidth = 20; naturalHeight = 60; decoding = ""; src = ""; onerror: unknown = null;
    };
    const drawn: { file: string; x: number; y: number; w: number; alpha: number; angle: number }[] = [];
    const state = { alpha: 1, angle: 0 };
    const ctx = new Proxy({}, {
      get(_t, prop) {
        if (prop === "measureText") return (t: string) => ({ width: t.length * 6 });
        if (prop === "rotate") return (a: number) => { state.angle = a; };
        if (prop === "save") return () => { state.angle = 0; };
        if (prop === "drawImage") {
          return (img: { src: string }, x: number, y: number, w: number) =>
            drawn.push({ file: img.src.split("/").pop()!, x, y, w, alpha: state.alpha, angle: state.angle });
        }
        return () => {};
      },
      set(_t, prop, value) {
        if (prop === "globalAlpha") state.alpha = value;
        return true;
      },
    }) as unknown as CanvasRenderingContext2D;
    return { ctx, drawn };
  }

  async function drawWith(names: string[], extra: Record<string, number>, now: number) {
    const { drawSector, effectsFor } = await import("../src/sector");
    const raw = rawFrame(1);
    raw.state.current_node = 1; // a cluster, with an asteroid selected
    raw.state.selected_asteroid = 2;
    raw.state.asteroids = [{ slot: 2, selected: true, composition: { iron: 1 }, stability: 0.5, depletion: 0, confidence: 0.5 }];
    const view = decodeFrame(raw).view;
    const graph = graphOf(raw.state.nodes);
    const { ctx, drawn } = fakeCanvas();
    const effects = effectsFor({ names, flags: 0, ...extra }, 1000);
    drawSector(ctx, 900, 500, graph, view, effects, now); // the first draw starts the sprites' loads
    drawn.length = 0;
    drawSector(ctx, 900, 500, graph, view, effects, now);
    return drawn;
  }

  it("draws the scan beam, the fracture and the sale sprites the manifest maps", async () => {
    const files = (d: { file: string }[]) => new Set(d.map((x) => x.file));
    expect(files(await drawWith(["scan"], { scan_kind: 2 }, 1200))).toContain("laserBlue08.png"); // beam.scan, focused
    expect((await drawWith(["scan"], { scan_kind: 1 }, 1200)).filter((x) => x.file === "laserBlue08.png")).toHaveLength(6); // wide
    expect(files(await drawWith(["fracture"], { fracture_damage: 3 }, 1200))).toContain("star1.png"); // fx.fracture
    expect(files(await drawWith(["sale"], { sale_revenue: 50, sale_units: 1, sale_commodity: 0 }, 1200))).toContain("star1.png"); // fx.sale
    expect(files(await drawWith([], {}, 1200))).not.toContain("laserBlue08.png");
  });

  it("draws them still under reduced motion: the same picture at any time of the effect", async () => {
    const { motion } = await import("../src/sector");
    const moving = [await drawWith(["scan", "fracture"], { scan_kind: 2 }, 1100), await drawWith(["scan", "fracture"], { scan_kind: 2 }, 1500)];
    expect(moving[0]).not.toEqual(moving[1]);
    motion.reduced = true;
    try {
      const still = [await drawWith(["scan", "fracture"], { scan_kind: 2 }, 1100), await drawWith(["scan", "fracture"], { scan_kind: 2 }, 1500)];
      expect(still[0]).toEqual(still[1]);
      expect(still[0].some((x) => x.file === "laserBlue08.png" && x.alpha > 0)).toBe(true); // still visible
    } finally {
      motion.reduced = false;
    }
  });
});
