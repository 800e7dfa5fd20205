import { describe, expect, it } from "vitest";
import { actionName } from "../src/format";
import { A, ACTION_NAMES, actionLabel, EVENT_BIT, eventNames, GAUGES, gaugeWarn, invalidReason, KEY_OF_ACTION, PLAY_KEYS, setVocabulary } from "../src/game";
import { META_ACTION_LABELS } from "./setup";
import { rawState } from "./fixtures";

const gauge = (key: string) => GAUGES.find((g) => g.key === key)!;

describe("gauges and events", () => {
  it("warns past each gauge's threshold, in the gauge's direction", () => {
    expect(gaugeWarn(gauge("heat"), 71)).toBe(true);
    expect(gaugeWarn(gauge("heat"), 70)).toBe(false);
    expect(gaugeWarn(gauge("fuel"), 149)).toBe(true);
    expect(gaugeWarn(gauge("hull"), 80)).toBe(false);
  });

  it("reads event bits in the engine's order", () => {
    expect(eventNames(EVENT_BIT.sale | EVENT_BIT.dock)).toEqual(["dock", "sale"]);
    expect(EVENT_BIT.invalid).toBe(32768);
  });
});

describe("actions", () => {
  it("labels actions, travel with the neighbor and its travel time", () => {
    const s = rawState();
    expect(actionLabel(0, s)).toBe("Travel 1 → node 1 (3t)");
    expect(actionLabel(3, s)).toBe("Travel 4");
    expect(actionLabel(A.SELL0 + 3 * 3 + 2)).toBe("Sell PGE 100%");
    expect(actionLabel(A.JETTISON0 + 4)).toBe("Jettison rare isotopes");
    expect(actionLabel(A.CASH_OUT)).toBe("Cash out");
  });

  it("has one vocabulary: the labels are /api/meta's names, the same in buttons, replays and events", () => {
    expect(actionLabel(A.MINE0)).toBe("Mine conservative");
    expect(actionName("MINE_CONSERVATIVE")).toBe(actionLabel(A.MINE0));
    expect(actionName("TRAVEL_1")).toBe(actionLabel(1));
    // the labels are the server's, whatever they say
    const actions = ACTION_NAMES.map((name, index) => ({ index, name }));
    setVocabulary({ actions, action_labels: META_ACTION_LABELS.map((l, i) => (i === A.MINE0 ? "Mine gently" : l)) });
    expect(actionLabel(A.MINE0)).toBe("Mine gently");
    expect(actionName("MINE_CONSERVATIVE")).toBe("Mine gently");
    setVocabulary({ actions, action_labels: META_ACTION_LABELS });
  });

  it("numbers slots the same way in keys, labels, replay events and reasons: key 1 is Travel 1", () => {
    const s = rawState();
    expect(PLAY_KEYS["1"]).toBe(A.TRAVEL0);
    expect(KEY_OF_ACTION[A.TRAVEL0]).toBe("1");
    expect(actionLabel(PLAY_KEYS["1"])).toBe("Travel 1");
    expect(actionName("TRAVEL_0")).toBe("Travel 1"); // a replay's frame names the action TRAVEL_0
    for (let k = 1; k <= 6; k++) expect(actionLabel(PLAY_KEYS[String(k)])).toBe(`Travel ${k}`);
    expect(actionLabel(A.SELECT0)).toBe("Select asteroid 1");
    expect(invalidReason(A.TRAVEL0 + 2, s)).toBe("this node has no neighbor in slot 3");
    expect(invalidReason(A.SELECT0 + 7, s)).toBe("there is no asteroid in slot 8 here");
  });

  it("binds the maintenance keys m and p", () => {
    expect(PLAY_KEYS["m"]).toBe(A.TOOL_MAINT);
    expect(PLAY_KEYS["p"]).toBe(A.HULL_PATCH);
    expect(KEY_OF_ACTION[A.HULL_PATCH]).toBe("p");
  });

  it("does not mistake the letter o for zero", () => {
    expect(KEY_OF_ACTION[A.COOLDOWN]).toBe("o");
    expect(PLAY_KEYS["o"]).toBe(A.COOLDOWN);
    expect(PLAY_KEYS["0"]).toBe(A.COOLDOWN);
  });

  it("gives every hotkey one action and shows it on that action's button", () => {
    const keys = Object.keys(PLAY_KEYS).filter((k) => k !== "0"); // "0" is the alias of "o"
    expect(new Set(keys.map((k) => PLAY_KEYS[k])).size).toBe(keys.length);
    expect(KEY_OF_ACTION[A.WIDE_SCAN]).toBe("w");
    expect(KEY_OF_ACTION[A.SELL0 + 2]).toBe("⇧1");
  });

  it("says why an action is invalid in a state, per the spec's 'valid when'", () => {
    const station = rawState();
    expect(invalidReason(A.WIDE_SCAN, station)).toMatch(/station/);
    expect(invalidReason(A.FOCUSED_SCAN, station)).toMatch(/no asteroid is selected/);
    expect(invalidReason(2, station)).toMatch(/no neighbor in slot 3/);
    expect(invalidReason(0, station)).toBeNull();
    expect(invalidReason(A.SELL0, station)).toMatch(/no Iron to sell/);
    expect(invalidReason(A.REFINE, station)).toMatch(/hold is empty/);
    expect(invalidReason(99, station)).toMatch(/no action 99/);
    const field = rawState({
      current_node: 1, selected_asteroid: 2,
      asteroids: [
        { slot: 2, selected: true, composition: {}, stability: 0.5, depletion: 0.2, confidence: 0.3 },
        { slot: 4, selected: false, composition: {}, stability: 0.5, depletion: 1, confidence: 0.3 },
      ],
    });
    field.ship.stabilizers = 0;
    field.ship.repair_kits = 0;
    expect(invalidReason(A.WIDE_SCAN, field)).toBeNull();
    expect(invalidReason(A.MINE0 + 2, field)).toBeNull();
    expect(invalidReason(A.STABILIZE, field)).toMatch(/no stabilizers/);
    expect(invalidReason(A.SELECT0 + 4, field)).toMatch(/depleted/);
    expect(invalidReason(A.SELECT0 + 7, field)).toMatch(/no asteroid in slot 8/);
    expect(invalidReason(A.HULL_PATCH, field)).toMatch(/no repair kits/);
    expect(invalidReason(A.DOCK, field)).toMatch(/only at the station/);
  });
});
