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

/** The sound groups, each with its own volume (manifest.sound_groups): event cues and the UI's. */
export const SOUND_GROUPS = ["events", "ui"] as const;
export type SoundGroup = (typeof SOUND_GROUPS)[number];
export const DEFAULT_VOLUME: Record<SoundGroup, number> = { events: 0.4, ui: 0.4 };
const volumeKey = (group: SoundGroup) => `prospector.volume.${group}`;

/** The group a sound belongs to (manifest.sound_groups); an event's cue plays as "events" whatever its sound. */
export function soundGroup(key: SoundKey): SoundGroup {
  const groups = manifest.sound_groups as unknown as Record<SoundGroup, string[]>;
  return SOUND_GROUPS.find((g) => groups[g].includes(key)) ?? "events";
}

function stored(key: string): string | null {
  try {
    return globalThis.localStorage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function store(key: string, value: string): void {
  try {
    globalThis.localStorage?.setItem(key, value);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
  listeners.forEach((f) => f());
}

export function isMuted(): boolean {
  return stored(MUTE_KEY) !== "0"; // muted unless the person turned sound on
}

export function setMuted(muted: boolean): void {
  store(MUTE_KEY, muted ? "1" : "0");
}

/** A group's volume, 0..1, as the person left it (remembered like mute). */
export function volume(group: SoundGroup): number {
  const text = stored(volumeKey(group));
  const v = text === null ? NaN : Number(text);
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : DEFAULT_VOLUME[group];
}

export function setVolume(group: SoundGroup, value: number): void {
  store(volumeKey(group), String(Math.min(1, Math.max(0, Number.isFinite(value) ? value : DEFAULT_VOLUME[group]))));
}

/** Mute, or a change of either volume. */
export function onMuteChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Sounds may play from now on (browsers allow audio only after the person interacted). */
export function noteInteraction(): void {
  interacted = true;
}

if (typeof window !== "undefined") {
  window.addEventListener("pointerdown", noteInteraction, { once: true, capture: true });
  window.addEventListener("keydown", noteInteraction, { once: true, capture: true });
}

const audio = new Map<string, HTMLAudioElement>();
const lastPlayed = new Map<string, number>();

/** Play a sound cue at its group's volume times `gain` (rate-limited per key, so that fast
 * playback does not become noise). */
export function playSound(key: SoundKey, group: SoundGroup = soundGroup(key), gain = 1): void {
  if (typeof Audio === "undefined" || !interacted || isMuted()) return;
  if (typeof document !== "undefined" && document.visibilityState !== "visible") return;
  const level = volume(group) * gain;
  if (level <= 0) return;
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
  a.volume = level;
  a.currentTime = 0;
  void a.play().catch(() => {});
}

/** The cues of a step's events (one per event that has one), at the events volume. */
export function playEventSounds(names: string[]): void {
  for (const name of names) {
    const key = EVENT_SOUNDS[name];
    if (key) playSound(key, "events", name === "mine" ? 0.4 : 1); // mining ticks are many: softer
  }
}

/** True when the person asked for less motion (effects are then drawn still, not animated). */
export function reducedMotion(): boolean {
  return typeof matchMedia !== "undefined" && matchMedia("(prefers-reduced-motion: reduce)").matches;
}
