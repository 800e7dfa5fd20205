// Sprites and sounds through the semantic manifest (src/manifest.json): the drawing code
// asks for "ship" or "sfx.scan", never for a file. Images load lazily on first request
// (null until they are in: the vector shapes stand in); sounds play only after the
// person's first interaction, when not muted (remembered), and never in a background tab.

import manifest from "./manifest.json";

export type SpriteKey = keyof typeof manifest.sprites;
export type SoundKey = keyof typeof manifest.sounds;

export const SPRITE_KEYS = Object.keys(manifest.sprites) as SpriteKey[];
export const SOUND_KEYS = Object.keys(manifest.sounds) as SoundKey[];
export const EVENT_SOUNDS = manifest.event_sounds as Record<string, SoundKey>;

export function assetUrl(file: string): string {
  return manifest.base + file;
}

const images = new Map<string, HTMLImageElement | null>();

/** The sprite for `key` when it has loaded; null before (the first call starts the load). */
export function sprite(key: SpriteKey): HTMLImageElement | null {
  if (typeof Image === "undefined") return null;
  const file = manifest.sprites[key];
  const cached = images.get(file);
  if (cached !== undefined) return cached && cached.complete && cached.naturalWidth > 0 ? cached : null;
  const img = new Image();
  img.decoding = "async";
  img.onerror = () => images.set(file, null); // a missing file: the vector shape stays
  img.src = assetUrl(file);
  images.set(file, img);
  return null;
}

// ---- sound -----------------------------------------------------------------------------

const MUTE_KEY = "prospector.muted";
let interacted = false;
const listeners = new Set<() => void>();

export function isMuted(): boolean {
  try {
    return globalThis.localStorage?.getItem(MUTE_KEY) !== "0"; // muted unless the person turned sound on
  } catch {
    return true;
  }
}

export function setMuted(muted: boolean): void {
  try {
    globalThis.localStorage?.setItem(MUTE_KEY, muted ? "1" : "0");
  } catch {
    // storage blocked: the choice lasts for this page only
  }
  listeners.forEach((f) => f());
}

export function onMuteChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

if (typeof window !== "undefined") {
  const first = () => { interacted = true; };
  window.addEventListener("pointerdown", first, { once: true, capture: true });
  window.addEventListener("keydown", first, { once: true, capture: true });
}

const audio = new Map<string, HTMLAudioElement>();
const lastPlayed = new Map<string, number>();

/** Play a sound cue (rate-limited per key so fast playback does not become noise). */
export function playSound(key: SoundKey, volume = 0.4): void {
  if (typeof Audio === "undefined" || !interacted || isMuted()) return;
  if (typeof document !== "undefined" && document.visibilityState !== "visible") return;
  const now = performance.now();
  if (now - (lastPlayed.get(key) ?? -1e9) < 150) return;
  lastPlayed.set(key, now);
  const file = manifest.sounds[key];
  let a = audio.get(file);
  if (!a) {
    a = new Audio(assetUrl(file));
    a.preload = "auto";
    audio.set(file, a);
  }
  a.volume = volume;
  a.currentTime = 0;
  void a.play().catch(() => {});
}

/** The cues of a step's events (one per event that has one). */
export function playEventSounds(names: string[]): void {
  for (const name of names) {
    const key = EVENT_SOUNDS[name];
    if (key) playSound(key, name === "mine" ? 0.15 : 0.4);
  }
}

/** True when the person asked for less motion (effects are then drawn still, not animated). */
export function reducedMotion(): boolean {
  return typeof matchMedia !== "undefined" && matchMedia("(prefers-reduced-motion: reduce)").matches;
}
