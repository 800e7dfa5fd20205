import { describe, expect, it } from "vitest";
import { frameAtTick, Playback } from "../src/playback";

describe("Playback", () => {
  it("moves stride frames every 1/fps seconds and stops at the end", () => {
    const p = new Playback(100);
    p.setFps(10);
    expect(p.advance(0.05)).toBe(false); // half a step owed
    expect(p.advance(0.05)).toBe(true);
    expect(p.position).toBe(1);
    p.setStride(5);
    p.advance(0.2);
    expect(p.position).toBe(11);
    p.seek(97);
    p.advance(0.2);
    expect(p.position).toBe(99);
    expect(p.playing).toBe(false);
    p.toggle(); // play again from the start
    expect(p.position).toBe(0);
    expect(p.playing).toBe(true);
  });

  it("waits (buffering) for frames that are not loaded, without skipping them", () => {
    let loaded = 3;
    const p = new Playback(100, (i) => i < loaded);
    p.setFps(100);
    p.advance(0.02);
    expect(p.position).toBe(2);
    p.advance(0.05);
    expect(p.position).toBe(2);
    expect(p.buffering).toBe(true);
    loaded = 100;
    p.advance(0.01);
    expect(p.position).toBe(3);
    expect(p.buffering).toBe(false);
  });

  it("does not jump after a long pause of the clock (hidden tab)", () => {
    const p = new Playback(10_000);
    p.setFps(60);
    p.advance(30);
    expect(p.position).toBe(15); // 0.25 s at most
  });

  it("steps pause, seeks clamp, speeds cycle through the choices", () => {
    const p = new Playback(50);
    p.setStride(10);
    p.step(1);
    expect([p.position, p.playing]).toEqual([10, false]);
    p.step(-1);
    p.step(-1);
    expect(p.position).toBe(0);
    p.seek(1e9);
    expect(p.position).toBe(49);
    p.setFps(30);
    p.cycleFps(1);
    expect(p.fps).toBe(60);
    p.cycleFps(-1);
    p.cycleFps(-1);
    expect(p.fps).toBe(10);
    p.setFps(-1);
    p.setStride(0);
    expect([p.fps, p.stride]).toEqual([10, 10]);
  });
});

describe("frameAtTick", () => {
  const ticks = [1, 3, 4, 10, 12];
  it("finds the first frame at or after a tick", () => {
    expect(frameAtTick(ticks, 5, 0)).toBe(0);
    expect(frameAtTick(ticks, 5, 4)).toBe(2);
    expect(frameAtTick(ticks, 5, 5)).toBe(3);
    expect(frameAtTick(ticks, 5, 99)).toBe(4);
    expect(frameAtTick(ticks, 3, 99)).toBe(2);
    expect(frameAtTick([], 0, 5)).toBe(0);
  });
});
