import { describe, expect, it } from "vitest";
import { describeEvents } from "../src/format";
import { ReplayFrames } from "../src/replayFrames";
import { fakePages } from "./fixtures";

describe("ReplayFrames", () => {
  it("fetches the page holding a frame, once, and prefetches the next past its middle", async () => {
    const { asked, fetchPage } = fakePages(100);
    const frames = new ReplayFrames(100, fetchPage, 10, 3);
    expect(frames.get(3)).toBeUndefined();
    await Promise.all([frames.ensure(3), frames.ensure(4)]);
    expect(asked).toEqual([0]);
    expect(frames.get(3)?.t).toBe(7);
    await frames.ensure(7);
    await new Promise((r) => setTimeout(r, 0));
    expect(asked).toEqual([0, 10]);
    expect(frames.has(15)).toBe(true);
  });

  it("keeps at most maxPages pages, evicting the least recently used", async () => {
    const { fetchPage } = fakePages(100);
    const frames = new ReplayFrames(100, fetchPage, 10, 2);
    await frames.ensure(0);
    await frames.ensure(20);
    frames.get(1); // page 0 is now the most recently used
    await frames.ensure(40);
    expect(frames.cachedPages).toBe(2);
    expect(frames.has(1)).toBe(true);
    expect(frames.has(20)).toBe(false);
    expect(frames.has(40)).toBe(true);
  });

  it("scans every page into the series and notes without keeping the states", async () => {
    const { asked, fetchPage } = fakePages(45, new Set([12, 30]));
    const frames = new ReplayFrames(45, fetchPage, 10, 2);
    await frames.ensure(0);
    await frames.scan();
    expect(asked).toEqual([0, 10, 20, 30, 40]);
    expect(frames.series.filled).toBe(45);
    expect(frames.series.nextWith(0, 1 << 9)).toBe(12);
    expect(describeEvents(frames.notable.get(30)!)).toBe("sold 10 PGE for +1,500 cr");
    expect(frames.cachedPages).toBe(1); // only the page asked for with ensure()
  });

  it("reports a failed page and recovers on the next try", async () => {
    let fail = true;
    const { fetchPage } = fakePages(20);
    const frames = new ReplayFrames(20, (o, l) => (fail ? Promise.reject(new Error("down")) : fetchPage(o, l)), 10, 2);
    let changes = 0;
    frames.onChange = () => { changes++; };
    await expect(frames.ensure(0)).rejects.toThrow("down");
    expect(frames.error?.message).toBe("down");
    fail = false;
    await frames.ensure(0);
    expect(frames.error).toBeNull();
    expect(frames.get(0)).toBeDefined();
    expect(changes).toBe(2);
  });

  it("ignores frames outside the replay and answers nothing after close", async () => {
    const { asked, fetchPage } = fakePages(5);
    const frames = new ReplayFrames(5, fetchPage, 10, 2);
    await frames.ensure(-1);
    await frames.ensure(5);
    expect(asked).toEqual([]);
    await frames.ensure(0);
    frames.close();
    expect(frames.get(0)).toBeUndefined();
  });
});

describe("the first frames", () => {
  it("arrive in a small request of their own, replaced by the full first page", async () => {
    const { asked, fetchPage } = fakePages(100);
    const limits: number[] = [];
    const frames = new ReplayFrames(100, (o, l) => { limits.push(l); return fetchPage(o, l); }, 50, 2);
    await frames.ensure(0);
    expect(limits).toEqual([20, 50]);
    expect(asked).toEqual([0, 0]);
    expect(frames.has(49)).toBe(true);
    await frames.ensure(10);
    expect(limits).toEqual([20, 50]); // page 0 is complete: nothing more to fetch
  });

  it("count as loaded only up to where they go", async () => {
    let release: () => void = () => {};
    const { fetchPage } = fakePages(100);
    const gate = new Promise<void>((r) => { release = r; });
    const frames = new ReplayFrames(100, (o, l) => (l === 20 ? fetchPage(o, l) : gate.then(() => fetchPage(o, l))), 50, 2);
    const full = frames.ensure(0);
    await new Promise((r) => setTimeout(r, 0));
    expect(frames.has(19)).toBe(true);
    expect(frames.has(20)).toBe(false);
    release();
    await full;
    expect(frames.has(20)).toBe(true);
  });
});
