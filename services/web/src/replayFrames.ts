// A replay's frames, fetched in pages on demand and kept in a small cache.
//
// Playing a 20000-frame replay must not hold 20000 full states: pages of PAGE_SIZE
// frames are fetched when the playhead nears them (and the one after, ahead of
// time), decoded, and evicted least-recently-used beyond MAX_PAGES. A background
// pass walks every page once to fill the Series (timeline, jump-to-event) and the
// notable frames' events, keeping no states. Memory is therefore bounded by MAX_PAGES pages
// plus one Series, whatever the replay's length or how long it plays.
//
// The very first frames come in a small request of their own (HEAD_SIZE) beside the
// first full page, so the replay starts before a whole page has been built and sent.

import { decodeFrame, type Frame, Series } from "./decode";
import { NOTABLE_MASK } from "./game";
import type { FramePage, RawEvents } from "./types";

export const PAGE_SIZE = 250;
export const MAX_PAGES = 4;
export const HEAD_SIZE = 20;

export type FetchPage = (offset: number, limit: number) => Promise<FramePage>;

export class ReplayFrames {
  readonly series: Series;
  /** The events of every notable frame (sales, pirates, fractures ...), by frame index: the event log's. */
  readonly notable = new Map<number, RawEvents>();
  private pages = new Map<number, Frame[]>(); // page number -> frames; Map order is the LRU order
  private inflight = new Map<number, Promise<Frame[]>>();
  private closed = false;
  error: Error | null = null;
  onChange: () => void = () => {};

  constructor(readonly length: number, private fetchPage: FetchPage, readonly pageSize = PAGE_SIZE,
              readonly maxPages = MAX_PAGES) {
    this.series = new Series(length);
  }

  /** The frame if its page is in the cache (marks the page recently used), else undefined. */
  get(index: number): Frame | undefined {
    const page = Math.floor(index / this.pageSize);
    const frames = this.pages.get(page);
    if (!frames) return undefined;
    this.pages.delete(page);
    this.pages.set(page, frames);
    return frames[index - page * this.pageSize];
  }

  has(index: number): boolean {
    const page = Math.floor(index / this.pageSize);
    const frames = this.pages.get(page);
    return frames !== undefined && index - page * this.pageSize < frames.length;
  }

  /** Fetch the page holding `index` (and prefetch the next when `index` is past its middle). */
  ensure(index: number): Promise<void> {
    if (index < 0 || index >= this.length) return Promise.resolve();
    const page = Math.floor(index / this.pageSize);
    if (page === 0 && !this.pages.has(0) && !this.inflight.has(0) && this.pageSize > HEAD_SIZE) this.loadHead();
    const wanted = this.load(page);
    if (index - page * this.pageSize >= this.pageSize / 2 && (page + 1) * this.pageSize < this.length) {
      void this.load(page + 1).catch(() => {});
    }
    return wanted.then(() => undefined);
  }

  /** Walk every page once (in order) to fill the series; pages already cached are not fetched again. */
  async scan(): Promise<void> {
    const pages = Math.ceil(this.length / this.pageSize);
    for (let page = 0; page < pages && !this.closed; page++) {
      if (this.series.known[Math.min(this.length - 1, page * this.pageSize)]) continue;
      await this.load(page, false);
    }
  }

  close(): void {
    this.closed = true;
    this.pages.clear();
    this.inflight.clear();
  }

  get cachedPages(): number {
    return this.pages.size;
  }

  private load(page: number, keep = true): Promise<Frame[]> {
    const cached = this.pages.get(page);
    if (cached && cached.length === Math.min(this.pageSize, this.length - page * this.pageSize)) {
      return Promise.resolve(cached);
    }
    const running = this.inflight.get(page);
    if (running) return running.then((frames) => (keep ? this.keep(page, frames) : frames));
    const offset = page * this.pageSize;
    const promise = this.fetchPage(offset, Math.min(this.pageSize, this.length - offset)).then((body) => {
      const frames = body.frames.map(decodeFrame);
      for (const frame of frames) {
        this.series.set(frame.index, frame);
        if (frame.events.flags & NOTABLE_MASK) this.notable.set(frame.index, frame.events);
      }
      return frames;
    });
    this.inflight.set(page, promise);
    const done = promise.then(
      (frames) => {
        this.inflight.delete(page);
        if (this.closed) return frames;
        this.error = null;
        if (keep) this.keep(page, frames);
        this.onChange();
        return frames;
      },
      (err: Error) => {
        this.inflight.delete(page);
        this.error = err;
        this.onChange();
        throw err;
      },
    );
    return done;
  }

  /** Frames 0..HEAD_SIZE-1 alone, kept as a short page 0 until the full one arrives. */
  private loadHead(): void {
    this.fetchPage(0, Math.min(HEAD_SIZE, this.length)).then((body) => {
      if (this.closed || this.pages.has(0)) return;
      const frames = body.frames.map(decodeFrame);
      this.pages.set(0, frames);
      this.onChange();
    }, () => {}); // the full page reports errors
  }

  private keep(page: number, frames: Frame[]): Frame[] {
    if (this.closed) return frames;
    this.pages.delete(page);
    this.pages.set(page, frames);
    while (this.pages.size > this.maxPages) {
      const oldest = this.pages.keys().next().value as number;
      this.pages.delete(oldest);
    }
    return frames;
  }
}
