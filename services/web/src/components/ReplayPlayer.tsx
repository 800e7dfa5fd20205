// One replay, played: the sector view, the HUD, the timeline and the playback controls.
// Frames come from ReplayFrames (paged, cached); the playhead from Playback, moved by
// requestAnimationFrame. Playback starts as soon as the first page is in.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { type Frame, graphOf, initialFrame } from "../decode";
import { groupLog, parseTick } from "../format";
import { NOTABLE_MASK } from "../game";
import { FPS_CHOICES, frameAtTick, Playback, REPLAY_KEYS, STRIDE_CHOICES } from "../playback";
import { ReplayFrames } from "../replayFrames";
import type { ReplayDetail } from "../types";
import { Icon } from "./Icon";
import { ActionLine, Cargo, CommodityLegend, EventLog, Gauges, Market, Purse } from "./Hud";
import { PolicyPanel } from "./PolicyPanel";
import { SectorCanvas } from "./SectorCanvas";
import { Timeline } from "./Timeline";

const SPARK_FRAMES = 120;
const LOG_LINES = 10;
const LOG_FRAMES = 400; // notable frames looked at for those lines

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA" || el.isContentEditable);
}

export function ReplayPlayer({ detail }: { detail: ReplayDetail }) {
  const { replay, header } = detail;
  const graph = useMemo(() => graphOf(header.graph), [header]);
  const start = useMemo(() => initialFrame(header.initial_state), [header]);
  const frames = useMemo(
    () => new ReplayFrames(replay.length, (offset, limit) => api.frames(replay.run_id, replay.replay_id, offset, limit)),
    [replay.run_id, replay.replay_id, replay.length],
  );
  const playback = useMemo(() => new Playback(replay.length, (i) => frames.has(i)), [frames]);
  const [, setTick] = useState(0);
  const rerender = () => setTick((n) => (n + 1) | 0);
  const shown = useRef<Frame>(start);
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const tickInput = useRef<HTMLInputElement>(null);

  // load the first page, then walk the rest in the background for the timeline
  useEffect(() => {
    frames.onChange = () => {
      setVersion((v) => v + 1);
      setError(frames.error ? frames.error.message : null);
    };
    frames.ensure(0).then(() => frames.scan()).catch((err: Error) => setError(err.message));
    return () => frames.close();
  }, [frames]);

  // the clock: advance, fetch ahead, re-render when the playhead moved
  useEffect(() => {
    let raf = 0;
    let last = performance.now();
    const loop = (now: number) => {
      const moved = playback.advance((now - last) / 1000);
      last = now;
      const ahead = Math.min(replay.length - 1, playback.position + playback.stride * Math.max(playback.fps, 30));
      if (!frames.has(ahead) || playback.buffering) void frames.ensure(playback.buffering ? playback.position + playback.stride : ahead).catch(() => {});
      if (moved) rerender();
      raf = requestAnimationFrame(loop);
    };
    raf = requestAnimationFrame(loop);
    return () => cancelAnimationFrame(raf);
  }, [playback, frames]);

  const act = (fn: () => void) => {
    fn();
    void frames.ensure(playback.position).catch(() => {});
    rerender();
  };
  const nextEvent = () => act(() => {
    const next = frames.series.nextWith(playback.position, NOTABLE_MASK);
    if (next >= 0) {
      playback.playing = false;
      playback.seek(next);
    }
  });
  const goToTick = (text: string) => {
    const tick = parseTick(text, header.initial_state.time_max);
    if (tick === null) return false;
    const known = frames.series.last + 1;
    act(() => playback.seek(frameAtTick(frames.series.t, known, tick)));
    return true;
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      const big = e.shiftKey ? 100 : 1;
      const handlers: Record<string, () => void> = {
        " ": () => act(() => playback.toggle()),
        k: () => act(() => playback.toggle()),
        ArrowLeft: () => act(() => { playback.playing = false; playback.seek(playback.position - big * playback.stride); }),
        ArrowRight: () => act(() => { playback.playing = false; playback.seek(playback.position + big * playback.stride); }),
        "[": () => act(() => playback.cycleFps(-1)),
        "]": () => act(() => playback.cycleFps(1)),
        "-": () => act(() => playback.setStride(STRIDE_CHOICES[Math.max(0, STRIDE_CHOICES.indexOf(playback.stride as 1) - 1)])),
        "=": () => act(() => playback.setStride(STRIDE_CHOICES[Math.min(STRIDE_CHOICES.length - 1, STRIDE_CHOICES.indexOf(playback.stride as 1) + 1)])),
        n: nextEvent,
        g: () => tickInput.current?.focus(),
        Home: () => act(() => playback.seek(0)),
        End: () => act(() => playback.seek(replay.length - 1)),
      };
      const handler = handlers[e.key.length === 1 ? e.key.toLowerCase() : e.key];
      if (!handler) return;
      if (e.key === " " && (e.target as HTMLElement)?.tagName === "BUTTON") return; // the button's own click
      e.preventDefault();
      handler();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [playback, frames]);

  const current = frames.get(playback.position);
  if (current) shown.current = current;
  const frame = shown.current;
  const view = frame.view;
  const series = frames.series;
  const pos = playback.position;
  const from = Math.max(0, pos - SPARK_FRAMES + 1);
  // the last notable frames, alike ones in a row on one line ("sold ×12 ... +N cr")
  const log = groupLog(series.recentWith(pos, NOTABLE_MASK, LOG_FRAMES)
    .map((i) => ({ key: i, tick: series.t[i], events: frames.notable.get(i) ?? { names: [], flags: 0 } })), LOG_LINES);

  return (
    <div class="player" data-testid="replay-player">
      <div class="stage">
        <SectorCanvas graph={graph} view={view} frameKey={frame.index} events={frame.index >= 0 ? frame.events : null}
                      label={`sector view at tick ${frame.t}: node ${view.current_node}`} />
        <aside class="hud" aria-label="ship and market">
          <ActionLine info={{ tick: frame.t, name: frame.actionName, reward: frame.reward, dt: frame.dt,
                                to: frame.action >= 0 && frame.action < 6 ? frame.events.travel_to : undefined }} tickTestId="replay-tick" />
          <PolicyPanel policy={frame.policy} chosen={frame.action} />
          <Gauges view={view} />
          <Purse view={view} testId="replay-credits" />
          <Cargo view={view} />
          <CommodityLegend />
          <Market view={view} history={(k) => series.prices[k].subarray(from, pos + 1)} />
          <EventLog lines={log} />
        </aside>
      </div>
      <Timeline series={series} count={replay.length} position={pos} version={version}
                onSeek={(i) => act(() => playback.seek(i))} />
      <div class="controls" role="group" aria-label="playback">
        <button type="button" onClick={() => act(() => playback.seek(0))} title="first frame (Home)" aria-label="first frame"><Icon name="first" /></button>
        <button type="button" onClick={() => act(() => playback.step(-1))} title="step back (←)" aria-label="step back"><Icon name="back" /></button>
        <button type="button" class="primary" data-testid="play-pause" onClick={() => act(() => playback.toggle())}
                title="play / pause (Space)" aria-label={playback.playing ? "pause" : "play"}><Icon name={playback.playing ? "pause" : "play"} /></button>
        <button type="button" onClick={() => act(() => playback.step(1))} title="step forward (→)" aria-label="step forward"><Icon name="forward" /></button>
        <button type="button" onClick={nextEvent} title="next event (N)" data-testid="next-event"><Icon name="next" /> next event</button>
        <label>fps <select value={String(playback.fps)} onChange={(e) => act(() => playback.setFps(Number(e.currentTarget.value)))}>
          {FPS_CHOICES.map((f) => <option key={f} value={String(f)}>{f}</option>)}
        </select></label>
        <label>stride <select value={String(playback.stride)} onChange={(e) => act(() => playback.setStride(Number(e.currentTarget.value)))}>
          {STRIDE_CHOICES.map((s) => <option key={s} value={String(s)}>{s}</option>)}
        </select></label>
        <form class="goto" onSubmit={(e) => { e.preventDefault(); if (goToTick(tickInput.current!.value)) tickInput.current!.blur(); }}>
          <label>tick <input ref={tickInput} inputMode="numeric" size={6} placeholder={String(frame.t)} aria-label="go to tick" /></label>
          <button type="submit">go</button>
        </form>
        <span class="muted status" data-testid="frame-index" data-frame-index={frame.index}>
          frame {Math.max(0, frame.index) + 1} / {replay.length}{playback.buffering ? " · loading…" : ""}
          {series.filled < replay.length ? ` · timeline ${Math.round((series.filled / Math.max(1, replay.length)) * 100)}%` : ""}
        </span>
      </div>
      {error && <p class="problem error" role="alert">Frames could not be loaded: {error}</p>}
      <details class="keys">
        <summary>Keyboard shortcuts</summary>
        <ul>{REPLAY_KEYS.map(([k, what]) => <li key={k}><kbd>{k}</kbd> {what}</li>)}</ul>
      </details>
    </div>
  );
}
