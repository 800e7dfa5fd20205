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
