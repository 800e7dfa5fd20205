import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import manifest from "../src/manifest.json";
import { EVENT_NAMES } from "../src/game";

const pub = (file: string) => fileURLToPath(new URL(`../public${manifest.base}${file}`, import.meta.url));

describe("the asset manifest", () => {
  it("names a shipped file for every sprite and sound, with each pack's license beside them", () => {
    for (const file of [...Object.values(manifest.sprites), ...Object.values(manifest.sounds)]) {
      expect(existsSync(pub(file)), file).toBe(true);
    }
    for (const pack of new Set(Object.values({ ...manifest.sprites, ...manifest.sounds }).map((f) => f.split("/")[0]))) {
      expect(existsSync(pub(`${pack}/license.txt`)) || existsSync(pub(`${pack}/License.txt`)), pack).toBe(true);
    }
  });

  it("has the keys the renderer asks for, and event sounds name known sounds and events", () => {
    for (const key of ["ship", "station", "pirate", "hazard", "beam.scan", "beam.mine", "fx.overheat", "fx.dock", "fx.sale"]) {
      expect(manifest.sprites, key).toHaveProperty([key]);
    }
    for (const [event, sound] of Object.entries(manifest.event_sounds)) {
      expect(EVENT_NAMES as readonly string[]).toContain(event);
      expect(manifest.sounds).toHaveProperty([sound]);
    }
  });
});
