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
