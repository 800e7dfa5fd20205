import { describe, expect, it } from "vitest";
import { Autopilot, type Suggestion } from "../src/autopilot";

const suggestion = (action: number): Suggestion => ({ model: "m", action, top: [[action, 0.9]], value: 1, entropy: 0.3 });

/** An autopilot over a fake session whose clock is virtual (sleep advances it). */
function harness(options: { endAfter?: number; failAt?: number } = {}) {
  const taken: number[] = [];
  const waits: number[] = [];
  let clock = 0;
  let asked = 0;
  const changes: (Suggestion | null)[] = [];
  const pilot = new Autopilot({
    suggest: async () => {
      asked++;
      if (options.failAt === asked) throw new Error("no pretrained model is served here");
      clock += 30; // the request takes 30 ms
      return suggestion(10 + asked);
    },
    step: async (action) => {
      taken.push(action);
      clock += 20;
      return options.endAfter === undefined || taken.length < options.endAfter;
    },
    pace: () => 5,
    onChange: (s) => changes.push(s),
    // a virtual wait that still yields to the test (a macrotask), as a real timer does
    sleep: (ms) => { waits.push(ms); clock += ms; return new Promise((resolve) => setTimeout(resolve, 0)); },
    now: () => clock,
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { pilot, taken, waits, changes, settle };
}

describe("the autopilot (let the agent fly)", () => {
  it("steps with the agent's suggested action at a steady pace until the episode ends", async () => {
    const { pilot, taken, waits, changes, settle } = harness({ endAfter: 3 });
    pilot.start();
    for (let i = 0; i < 10 && pilot.flying; i++) await settle();
    expect(taken).toEqual([11, 12, 13]); // each step is the suggestion made for that state
    expect(waits).toEqual([150, 150]); // 5 steps/s: 200 ms a step, 50 of them spent in the requests
    expect(pilot.flying).toBe(false);
    expect(pilot.problem).toBeNull();
    expect(pilot.steps).toBe(3);
    expect(changes.filter((c) => c !== null).map((c) => c!.action)).toEqual([11, 12, 13]);
  });

  it("stops at once when the person takes the controls: no step is sent after stop()", async () => {
    const { pilot, taken, settle } = harness();
    pilot.start();
    await settle();
    pilot.stop();
    const before = taken.length;
    for (let i = 0; i < 5; i++) await settle();
    expect(taken.length).toBe(before);
    expect(before).toBeLessThanOrEqual(1);
    expect(pilot.flying).toBe(false);
  });

  it("lands with the reason when a suggestion fails", async () => {
    const { pilot, taken, settle } = harness({ failAt: 2 });
    pilot.start();
    for (let i = 0; i < 10 && pilot.flying; i++) await settle();
    expect(taken).toEqual([11]);
    expect(pilot.flying).toBe(false);
    expect(pilot.problem).toBe("no pretrained model is served here");
  });
});
