import { describe, expect, it } from "vitest";
import {
  actionName, compact, credits, describeEvents, metricValue, parseSeed, parseTick, percent, priceArrow, shortTime, signed,
} from "../src/format";

describe("numbers", () => {
  it("groups credits and rounds them", () => {
    expect(credits(12345.6)).toBe("12,346");
    expect(credits(-80.2)).toBe("-80");
    expect(credits(-0.3)).toBe("0");
    expect(credits(Number.NaN)).toBe("–");
  });

  it("signs amounts and never prints -0", () => {
    expect(signed(1200)).toBe("+1,200");
    expect(signed(-35)).toBe("-35");
    expect(signed(-0.0001, 3)).toBe("0.000");
    expect(signed(0.0125, 3)).toBe("+0.013");
  });

  it("compacts large and small numbers", () => {
    expect(compact(1234)).toBe("1.23k");
    expect(compact(45678)).toBe("45.7k");
    expect(compact(2.5e6)).toBe("2.50M");
    expect(compact(0.0123)).toBe("0.0123");
    expect(compact(0)).toBe("0");
    expect(compact(null)).toBe("–");
    expect(percent(0.456)).toBe("46%");
  });

  it("shows price moves as arrows with a flat band", () => {
    expect(priceArrow(10.1, 10)).toBe("▲");
    expect(priceArrow(9.9, 10)).toBe("▼");
    expect(priceArrow(10.001, 10)).toBe("•");
    expect(priceArrow(5, 0)).toBe("•");
  });
});

describe("words", () => {
  it("turns action names into words", () => {
    expect(actionName("FOCUSED_SCAN")).toBe("Focused scan");
    expect(actionName("MINE_AGGRESSIVE")).toBe("Mine aggressive");
    expect(actionName(null)).toBe("–");
  });

  it("prints small amounts with the digits that make them meaningful (not 'sold 0.0 PGE')", async () => {
    const { amount } = await import("../src/format");
    expect(describeEvents({ names: ["sale"], flags: 0, sale_units: 0.0412, sale_commodity: 3, sale_revenue: 6 }))
      .toBe("sold 0.0412 PGE for +6 cr");
    expect(amount(2.345)).toBe("2.35");
    expect(amount(1204.4)).toBe("1,204");
    expect(amount(0)).toBe("0");
  });

  it("describes a step's events with their amounts", () => {
    expect(describeEvents({ names: ["sale"], flags: 512, sale_units: 40, sale_commodity: 3, sale_revenue: 5400.4 }))
      .toBe("sold 40 PGE for +5,400 cr");
    expect(describeEvents({ names: ["pirate"], flags: 64, pirate_loss: 1234, pirate_damage: 3.25 }))
      .toBe("pirates took 1,234 cr of cargo, hull -3.25");
    expect(describeEvents({ names: ["invalid"], flags: 32768, action_name: "WIDE_SCAN" })).toBe("invalid Wide scan (held instead)");
    expect(describeEvents({ names: ["scan"], flags: 2, scan_kind: 3 })).toBe("deep scan");
    expect(describeEvents({ names: [], flags: 0 })).toBe("–");
  });

  it("reads window metrics, treating missing or non-numbers as null", () => {
    expect(metricValue({ a: 1.5, b: null, c: "x" }, "a")).toBe(1.5);
    expect(metricValue({ a: 1.5, b: null, c: "x" }, "b")).toBeNull();
    expect(metricValue({ a: 1.5, b: null, c: "x" }, "c")).toBeNull();
    expect(metricValue({}, "d")).toBeNull();
  });

  it("prints times in UTC", () => {
    expect(shortTime("2026-11-22T02:19:17Z")).toBe("Nov 22 02:19");
    expect(shortTime("not a time")).toBe("not a time");
  });
});

describe("input", () => {
  it("parses ticks within range only", () => {
    expect(parseTick(" 120 ", 20000)).toBe(120);
    expect(parseTick("20001", 20000)).toBeNull();
    expect(parseTick("-5", 20000)).toBeNull();
    expect(parseTick("1e3", 20000)).toBeNull();
  });

  it("parses seeds: empty is random, junk and unsafe integers are invalid", () => {
    expect(parseSeed("")).toBeNull();
    expect(parseSeed("42")).toBe(42);
    expect(parseSeed("4.2")).toBe("invalid");
    expect(parseSeed("9007199254740992")).toBe("invalid");
  });
});

describe("chart tick labels", () => {
  it("are distinct on a very flat chart, with the decimals the spacing needs", async () => {
    const { tickLabels } = await import("../src/format");
    // what uPlot gives for a metric that stays near 3.08 (the "3.08 3.08" of issue 15)
    const flat = [3.0805, 3.081, 3.0815, 3.082];
    expect(flat.map((v) => compact(v))).toContain("3.08"); // the plain labels repeat ...
    const labels = tickLabels(flat);
    expect(new Set(labels).size).toBe(flat.length); // ... these do not
    expect(labels).toEqual(["3.0805", "3.0810", "3.0815", "3.0820"]);
  });

  it("keep the plain format when it already tells ticks apart", async () => {
    const { tickLabels } = await import("../src/format");
    expect(tickLabels([0, 500, 1000, 1500])).toEqual(["0", "500", "1.00k", "1.50k"]);
    expect(tickLabels([0.2, 0.4], percent)).toEqual(["20%", "40%"]);
  });

  it("keep the unit of large numbers and percents", async () => {
    const { tickLabels } = await import("../src/format");
    expect(tickLabels([1.2341e6, 1.2342e6, 1.2343e6])).toEqual(["1.2341M", "1.2342M", "1.2343M"]);
    expect(tickLabels([0.501, 0.502, 0.503], percent)).toEqual(["50.1%", "50.2%", "50.3%"]);
    expect(tickLabels([0.12341, 0.12342])).toEqual(["0.12341", "0.12342"]);
    expect(tickLabels([-0.00001, 0, 0.00001, 0.00002].map((v) => 0.5 + v))).toEqual(["0.49999", "0.50000", "0.50001", "0.50002"]);
  });
});

describe("the event log", () => {
  const sale = (key: number, units: number, revenue: number, commodity = 3) =>
    ({ key, tick: key * 2, events: { names: ["sale"], flags: 512, sale_units: units, sale_commodity: commodity, sale_revenue: revenue } });

  it("groups alike events in a row into one line with the count and the summed amounts", async () => {
    const { groupLog } = await import("../src/format");
    // newest first: twelve PGE sales in a row, then (older) a fracture
    const entries = [
      ...Array.from({ length: 12 }, (_, i) => sale(40 - i, 1.5, 100.5)),
      { key: 10, tick: 20, events: { names: ["fracture"], flags: 8, fracture_damage: 4 } },
    ];
    const lines = groupLog(entries, 10);
    expect(lines).toHaveLength(2);
    expect(lines[0].text).toBe("sold ×12 18 PGE for +1,206 cr");
    expect(lines[0]).toMatchObject({ key: 40, tick: 80, count: 12, firstTick: 58 });
    expect(lines[1].text).toBe("fracture! hull -4");
    expect(lines[1].count).toBeUndefined();
  });

  it("keeps apart what differs: another commodity, another purchase, events in between", async () => {
    const { groupLog } = await import("../src/format");
    const buy = (key: number, name: string) =>
      ({ key, tick: key, events: { names: ["purchase"], flags: 1024, applied_action_name: name, purchase_cost: 50 } });
    const lines = groupLog([sale(9, 1, 10, 0), sale(8, 1, 10, 3), sale(7, 1, 10, 3), buy(6, "BUY_REPAIR_KIT"),
                            buy(5, "BUY_FUEL_MEDIUM"), buy(4, "BUY_FUEL_MEDIUM"), sale(3, 1, 10, 3)], 10);
    expect(lines.map((l) => l.text)).toEqual([
      "sold 1 Iron for +10 cr", "sold ×2 2 PGE for +20 cr", "Buy repair kit for 50 cr", "Buy fuel medium ×2 for 100 cr",
      "sold 1 PGE for +10 cr",
    ]);
    expect(groupLog([sale(9, 1, 10), sale(8, 1, 10), sale(7, 1, 10)], 1)).toHaveLength(1);
  });
});
