import { describe, expect, it } from "vitest";
import { errorDetail } from "../src/api";
import { sparkPoints } from "../src/components/Sparkline";
import { pageOf } from "../src/router";
import { alignRuns, alignWindows, configDiff, ema, isMarked } from "../src/pages/AnalyticsPage";
import { fit } from "../src/components/Chart";
import { percentOf, sessionConfig } from "../src/pages/PlayPage";
import { latestReplay, tagMatches } from "../src/pages/ReplayPage";
import { replay, windowRow } from "./fixtures";

describe("replay pickers", () => {
  it("filters by tag, with milestone:* matching every milestone", () => {
    expect(tagMatches("all", [])).toBe(true);
    expect(tagMatches("best_so_far", ["every_window", "best_so_far"])).toBe(true);
    expect(tagMatches("milestone:*", ["milestone:first_profit"])).toBe(true);
    expect(tagMatches("milestone:*", ["every_window"])).toBe(false);
  });

  it("follows the latest window's every_window replay, else the last replay", () => {
    const a = replay({ replay_id: "a", window_id: 1, tags: ["every_window"] });
    const b = replay({ replay_id: "b", window_id: 3, tags: ["best_so_far"] });
    const c = replay({ replay_id: "c", window_id: 2, tags: ["every_window"] });
    expect(latestReplay([a, b, c])?.replay_id).toBe("c");
    expect(latestReplay([b])?.replay_id).toBe("b");
    expect(latestReplay([])).toBeNull();
  });
});

describe("analytics", () => {
  it("aligns two runs' windows on one x axis, null where a run has no such window", () => {
    const main = [windowRow(0, { net_profit_mean: 1 }), windowRow(2, { net_profit_mean: null })];
    const other = [windowRow(1, { net_profit_mean: 5 })];
    expect(alignWindows(main, other, "net_profit_mean")).toEqual({ xs: [0, 1, 2], main: [1, null, null], other: [null, 5, null] });
    expect(alignWindows(main, null, "net_profit_mean").other).toBeNull();
    expect(alignRuns([main, other], "net_profit_mean", "window")).toEqual({ xs: [0, 1, 2], values: [[1, null, null], [null, 5, null]] });
  });

  it("smooths with an EMA, fits axes to the data and diffs configs", () => {
    expect(ema([1, null, 3], 0.5)).toEqual([1, null, 2]);
    expect(fit(5, 5)).toEqual([4.5, 5.5]); // one window: in the middle, not at the left of 0..100
    expect(fit(0, 100)).toEqual([-5, 105]);
    expect(configDiff({ train: { lr: 1, n: 2 } }, { train: { lr: 2, n: 2 }, x: true }))
      .toEqual([["train.lr", "1", "2"], ["x", "–", "true"]]);
  });

  it("marks best_so_far and milestone replays only", () => {
    expect(isMarked(["every_window", "best_so_far"])).toBe(true);
    expect(isMarked(["milestone:profit_10k"])).toBe(true);
    expect(isMarked(["every_window"])).toBe(false);
  });
});

describe("plumbing", () => {
  it("maps paths to pages", () => {
    expect(pageOf("/")).toBe("replay");
    expect(pageOf("/play")).toBe("play");
    expect(pageOf("/play/")).toBe("play");
    expect(pageOf("/analytics")).toBe("analytics");
    expect(pageOf("/anything")).toBe("replay");
  });

  it("reads FastAPI error bodies", () => {
    expect(errorDetail({ detail: "no such replay" })).toBe("no such replay");
    expect(errorDetail({ detail: [{ msg: "a" }, { msg: "b" }] })).toBe("a; b");
    expect(errorDetail("<html>")).toBeNull();
  });

  it("passes only the env fields a session accepts", () => {
    expect(sessionConfig({ time_max: 600, pirates: false, seed: 3, schema: "x" })).toEqual({ time_max: 600, pirates: false });
    expect(sessionConfig(undefined)).toBeUndefined();
  });

  it("scales sparkline points into the box, skipping gaps", () => {
    expect(sparkPoints([1, null, 3], 10, 10)).toBe("1.0,9.0 9.0,1.0");
    expect(sparkPoints([2], 10, 10)).toBe("");
    expect(sparkPoints([null, null], 10, 10)).toBe("");
    expect(sparkPoints([5, 5], 10, 10)).toBe("1.0,9.0 9.0,9.0");
  });
});

describe("the agent's suggestions on /play", () => {
  it("print probabilities with the digits that tell small ones apart", () => {
    expect(percentOf(0.6449)).toBe("64%");
    expect(percentOf(0.054)).toBe("5.4%");
    expect(percentOf(0.004)).toBe("<1%");
    expect(percentOf(Number.NaN)).toBe("<1%");
  });
});
