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
