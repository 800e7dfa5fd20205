// The playback controller: where the playhead is, whether it runs, how fast.
//
// Pure logic (no DOM): `advance(seconds)` moves the playhead by `stride` frames every
// 1/fps seconds of wall time, stopping at frames that are not loaded yet (`ready`)
// and at the end. The page calls it from requestAnimationFrame.

export const FPS_CHOICES = [1, 5, 10, 30, 60, 120, 240] as const;
export const STRIDE_CHOICES = [1, 2, 5, 10, 50] as const;

export class Playback {
  position = 0;
  playing = true;
  fps = 30;
  stride = 1;
  /** True while the playhead waits for frames that are still loading. */
  buffering = false;
  private carry = 0; // fraction of a step owed from the previous advance

  constructor(public length: number, private ready: (index: number) => boolean = () => true) {}

  get atEnd(): boolean {
    return this.position >= this.length - 1;
  }

  /** Move by the time elapsed; returns true when the playhead moved. */
  advance(seconds: number): boolean {
    if (!this.playing || this.length === 0) return false;
    if (this.atEnd) {
      this.playing = false;
      return false;
    }
    this.carry += Math.min(seconds, 0.25) * this.fps; // a hidden tab does not jump ahead on return
    const steps = Math.floor(this.carry);
    if (steps === 0) return false;
    this.carry -= steps;
    const target = Math.min(this.length - 1, this.position + steps * this.stride);
    if (!this.ready(target)) {
      this.buffering = true;
      this.carry = 0;
      return false;
    }
    this.buffering = false;
    this.position = target;
    if (this.atEnd) this.playing = false;
    return true;
  }

  toggle(): void {
    if (!this.playing && this.atEnd) this.position = 0; // play again from the start
    this.playing = !this.playing;
    this.carry = 0;
  }

  seek(index: number): void {
    this.position = Math.max(0, Math.min(this.length - 1, Math.round(index)));
    this.carry = 0;
  }

  /** One stride back or forward; pauses, as stepping while playing would fight the clock. */
  step(direction: 1 | -1): void {
    this.playing = false;
    this.seek(this.position + direction * this.stride);
  }

  setFps(fps: number): void {
    if (fps > 0 && Number.isFinite(fps)) this.fps = fps;
  }

  setStride(stride: number): void {
    if (Number.isInteger(stride) && stride >= 1) this.stride = stride;
  }

  /** The next speed in FPS_CHOICES (direction 1 faster, -1 slower). */
  cycleFps(direction: 1 | -1): void {
    const i = FPS_CHOICES.findIndex((f) => f >= this.fps);
    const at = i < 0 ? FPS_CHOICES.length - 1 : i;
    this.fps = FPS_CHOICES[Math.max(0, Math.min(FPS_CHOICES.length - 1, at + direction))];
  }
}

/** The first frame whose tick is >= `tick` among `count` frames with increasing ticks `t` (binary search). */
export function frameAtTick(t: ArrayLike<number>, count: number, tick: number): number {
  let lo = 0;
  let hi = count - 1;
  if (count === 0) return 0;
  if (tick <= t[0]) return 0;
  if (tick >= t[hi]) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[mid] < tick) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Replay keyboard shortcuts: key -> what it does (shown in the help line and the README). */
export const REPLAY_KEYS: [string, string][] = [
  ["Space / K", "play or pause"],
  ["← / →", "step back / forward one stride"],
  ["Shift+← / Shift+→", "back / forward 100 frames"],
  ["[ / ]", "slower / faster (fps)"],
  ["- / =", "smaller / larger stride"],
  ["N", "jump to the next event"],
  ["G", "go to a tick (focuses the tick box)"],
  ["Home / End", "first / last frame"],
];
