import { describe, expect, it } from "vitest";
import { decodeFrame, graphOf, initialFrame, Series } from "../src/decode";
import { EVENT_BIT, NOTABLE_MASK } from "../src/game";
import { rawFrame, rawState } from "./fixtures";

describe("decoding frames", () => {
  it("keeps the graph once and per frame only the dynamic node fields", () => {
    const raw = rawFrame(4);
    const frame = decodeFrame(raw);
    expect(frame.index).toBe(4);
    expect(frame.t).toBe(9);
    expect(frame.actionName).toBe("HOLD_DRIFT");
    expect("nodes" in frame.view).toBe(false);
    expect(Array.from(frame.view.threat)).toEqual([0, 0.25, 0.5]);
    expect(Array.from(frame.view.visited)).toEqual([1, 0, 0]);
    expect(Array.from(frame.view.hops)).toEqual([0, 1, 1]);
    expect(frame.view.ship.credits).toBe(504);
    const graph = graphOf(raw.state.nodes);
    expect(graph.nodes[1]).toEqual({ id: 1, type: "cluster", x: 200, y: 50, neighbors: [0], travel_times: [3] });
    expect([graph.minX, graph.maxX, graph.minY, graph.maxY]).toEqual([20, 200, 50, 220]);
  });

  it("falls back to the event's action name, then the number", () => {
    const raw = { ...rawFrame(0), action_name: null };
    expect(decodeFrame(raw).actionName).toBe("HOLD_DRIFT");
    raw.events = { names: [], flags: 0 };
    expect(decodeFrame(raw).actionName).toBe("action 6");
  });

  it("makes a start frame from a replay header's initial state", () => {
    const frame = initialFrame(rawState());
    expect(frame.index).toBe(-1);
    expect(frame.t).toBe(0);
    expect(frame.view.ship.fuel).toBe(1000);
  });
});

describe("Series", () => {
  it("records per-frame numbers and finds events forward and backward", () => {
    const series = new Series(10);
    for (const i of [0, 1, 2, 5, 6]) {
      const events = i === 2 || i === 6 ? { names: ["sale"], flags: EVENT_BIT.sale } : { names: ["mine"], flags: EVENT_BIT.mine };
      series.set(i, decodeFrame(rawFrame(i, { events, credits: 100 * i })));
    }
    expect(series.filled).toBe(5);
    expect(series.last).toBe(6);
    expect(series.credits[5]).toBe(500);
    expect(series.prices[3][5]).toBe(40);
    expect(series.nextWith(0, NOTABLE_MASK)).toBe(2);
    expect(series.nextWith(2, NOTABLE_MASK)).toBe(6);
    expect(series.nextWith(6, NOTABLE_MASK)).toBe(-1);
    expect(series.recentWith(9, NOTABLE_MASK, 5)).toEqual([6, 2]);
    expect(series.recentWith(9, EVENT_BIT.mine, 1)).toEqual([5]);
    expect(series.range(series.credits)).toEqual([0, 600]);
  });

  it("ignores frames outside its capacity and counts a frame once", () => {
    const series = new Series(2);
    series.set(5, decodeFrame(rawFrame(5)));
    series.set(-1, decodeFrame(rawFrame(0)));
    series.set(1, decodeFrame(rawFrame(1)));
    series.set(1, decodeFrame(rawFrame(1)));
    expect(series.filled).toBe(1);
    expect(series.range(series.reward)[0]).toBeCloseTo(-0.001);
    expect(new Series(3).range(new Float32Array(3))).toEqual([0, 1]);
  });
});
