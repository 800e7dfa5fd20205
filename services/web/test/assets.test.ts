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

describe("sound volumes", () => {
  /** A localStorage for the node test environment, and an Audio that records what it was asked to play. */
  function fakeBrowser() {
    const saved = new Map<string, string>();
    const played: { src: string; volume: number }[] = [];
    class FakeAudio {
      preload = "";
      volume = 1;
      currentTime = 0;
      constructor(public src: string) {}
      play() { played.push({ src: this.src, volume: this.volume }); return Promise.resolve(); }
    }
    Object.assign(globalThis, {
      localStorage: { getItem: (k: string) => saved.get(k) ?? null, setItem: (k: string, v: string) => saved.set(k, v) },
      Audio: FakeAudio,
    });
    return { saved, played };
  }

  it("keeps one volume per sound group, remembered like mute, within 0..1", async () => {
    const { saved } = fakeBrowser();
    const { DEFAULT_VOLUME, setVolume, soundGroup, volume } = await import("../src/assets");
    expect(volume("events")).toBe(DEFAULT_VOLUME.events);
    setVolume("events", 0.8);
    setVolume("ui", 0.1);
    expect(saved.get("prospector.volume.events")).toBe("0.8");
    expect(saved.get("prospector.volume.ui")).toBe("0.1");
    expect([volume("events"), volume("ui")]).toEqual([0.8, 0.1]);
    setVolume("ui", 7);
    expect(volume("ui")).toBe(1);
    saved.set("prospector.volume.events", "not a number");
    expect(volume("events")).toBe(DEFAULT_VOLUME.events);
    expect(soundGroup("ui.click")).toBe("ui");
    expect(soundGroup("sfx.sale")).toBe("events");
  });

  it("plays each cue at its group's volume: event cues at the events volume, the interface at its own", async () => {
    const { played } = fakeBrowser();
    const { noteInteraction, playEventSounds, playSound, setMuted, setVolume } = await import("../src/assets");
    noteInteraction();
    setMuted(false);
    setVolume("events", 0.5);
    setVolume("ui", 0.2);
    playEventSounds(["fracture", "purchase"]); // purchase's cue is the ui.click sound, but it is an event
    playSound("ui.toggle");
    expect(played.map((p) => [p.src.split("/").pop(), p.volume])).toEqual([
      ["sfx_shieldDown.ogg", 0.5], ["click-a.ogg", 0.5], ["switch-a.ogg", 0.2],
    ]);
    setVolume("ui", 0);
    playSound("ui.click");
    expect(played).toHaveLength(3); // a group at 0 is silent
    setMuted(true);
  });

  it("puts every sound in exactly one group", () => {
    const groups = Object.entries(manifest.sound_groups).filter(([k]) => !k.startsWith("_")).map(([, v]) => v as string[]);
    for (const key of Object.keys(manifest.sounds)) expect(groups.filter((g) => g.includes(key)), key).toHaveLength(1);
  });
});
