import { describe, expect, it } from "vitest";
import { bestReplay } from "../src/pages/ReplayPage";
import { freshRunBeside, opensOnPretrained, pretrainedRunOf, runLabel, runName } from "../src/pretrained";
import type { Run } from "../src/types";
import { replay } from "./fixtures";

const PRE = "20261101-000000-abc1234-0001";
const FRESH = "20261202-160000-abc1234-0002";

function run(run_id: string, status: string): Run {
  return { run_id, status, created_at: "2026-12-02T16:00:00Z", config: {}, wandb_url: null, spec_version: 1,
           git_sha: "abc1234", latest_window: null };
}

describe("the pretrained agent's run", () => {
  it("is known by /api/meta's pretrained.run_id (an older API sends only the name)", () => {
    expect(pretrainedRunOf({ pretrained: { name: "ppo-pretrained", run_id: PRE, window_id: 9, env_steps: 1 } })).toBe(PRE);
    expect(pretrainedRunOf({ pretrained: { name: "ppo-pretrained" } })).toBeNull();
    expect(pretrainedRunOf({ pretrained: null })).toBeNull();
    expect(pretrainedRunOf(null)).toBeNull();
  });

  it("is labelled wherever runs are listed", () => {
    expect(runLabel(run(PRE, "finished"), PRE)).toBe(`${PRE} · finished · pretrained agent`);
    expect(runLabel(run(FRESH, "running"), PRE)).toBe(`${FRESH} · running`);
    expect(runLabel(run(FRESH, "running"), null)).toBe(`${FRESH} · running`);
    expect(runName(PRE, PRE)).toBe(`${PRE} (pretrained agent)`);
    expect(runName(FRESH, PRE)).toBe(FRESH);
  });

  it("opens the page while the run beside it trains, and only with nothing picked", () => {
    const runs = [run(FRESH, "running"), run(PRE, "finished")]; // newest first, as /api/runs lists them
    const none = new URLSearchParams();
    expect(freshRunBeside(runs, PRE)?.run_id).toBe(FRESH);
    expect(opensOnPretrained(runs, PRE, none)).toBe(true);
    expect(opensOnPretrained([run(PRE, "finished")], PRE, none)).toBe(true); // no other run yet
    expect(opensOnPretrained(runs, PRE, new URLSearchParams({ run: FRESH }))).toBe(false);
    expect(opensOnPretrained(runs, PRE, new URLSearchParams({ replay: "r" }))).toBe(false);
    expect(opensOnPretrained([run(FRESH, "finished"), run(PRE, "finished")], PRE, none)).toBe(false); // trained: as before
    expect(opensOnPretrained(runs, null, none)).toBe(false); // no pretrained model: as before
    expect(opensOnPretrained([run(FRESH, "running")], PRE, none)).toBe(false); // not registered here
  });

  it("shows its best replay: the best_so_far with the highest profit, else the latest", () => {
    const a = replay({ replay_id: "a", window_id: 4, tags: ["every_window"], net_profit: 900 });
    const b = replay({ replay_id: "b", window_id: 4, tags: ["best_so_far", "milestone:first_profit"], net_profit: 700 });
    const c = replay({ replay_id: "c", window_id: 2, tags: ["best_so_far"], net_profit: 300 });
    expect(bestReplay([c, a, b])?.replay_id).toBe("b");
    expect(bestReplay([a])?.replay_id).toBe("a");
    expect(bestReplay([])).toBeNull();
  });
});
