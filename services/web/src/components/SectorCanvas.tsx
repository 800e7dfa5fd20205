// The sector view on a canvas that follows its box's size (and the screen's pixel ratio).
// A new `frameKey` starts the effects of `events`; the canvas redraws while they play.

import { useEffect, useRef } from "preact/hooks";
import type { Graph, View } from "../decode";
import { playEventSounds, reducedMotion } from "../assets";
import { drawSector, motion, type Effect, effectsFor, liveEffects, mergeEffects } from "../sector";
import type { RawEvents } from "../types";

/** A jump of more frames than this (or back) is a seek, not playback. */
const SEEK_FRAMES = 64;

interface Props {
  graph: Graph;
  view: View;
  frameKey: number;
  events: RawEvents | null;
  label: string;
}

export function SectorCanvas({ graph, view, frameKey, events, label }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const state = useRef({ graph, view, effects: [] as Effect[], dirty: true, width: 0, height: 0, frameKey });

  // new frame: new effects (after a seek, the effects of the frames left behind are dropped:
  // they belong to another moment of the episode)
  useEffect(() => {
    const s = state.current;
    s.graph = graph;
    s.view = view;
    const now = performance.now();
    const jumped = frameKey <= s.frameKey || frameKey - s.frameKey > SEEK_FRAMES;
    s.frameKey = frameKey;
    s.effects = mergeEffects(jumped ? [] : liveEffects(s.effects, now), events ? effectsFor(events, now) : []);
    s.dirty = true;
    if (events) playEventSounds(events.names);
  }, [graph, view, frameKey]);

  useEffect(() => {
    const el = canvas.current!;
    const ctx = el.getContext("2d")!;
    const s = state.current;
    motion.reduced = reducedMotion();
    const resize = () => {
      const ratio = window.devicePixelRatio || 1;
      const box = el.getBoundingClientRect();
      s.width = Math.max(1, Math.round(box.width));
      s.height = Math.max(1, Math.round(box.height));
      el.width = Math.round(s.width * ratio);
      el.height = Math.round(s.height * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      // Setting the size clears the canvas, and ResizeObserver runs after this frame's
      // animation callbacks: draw now, or the frame is painted blank (a flicker whenever
      // the HUD beside it changes height).
      drawSector(ctx, s.width, s.height, s.graph, s.view, s.effects, performance.now());
    };
    const observer = new ResizeObserver(resize);
    observer.observe(el);
    resize();
    let raf = 0;
    let lastPulse = 0;
    const loop = (now: number) => {
      // the next frame first: one failed draw must not leave the canvas frozen for good
      raf = requestAnimationFrame(loop);
      s.effects = liveEffects(s.effects, now);
      // effects animate every frame; otherwise only the current-node pulse, ten times a second
      if (s.dirty || s.effects.length > 0 || now - lastPulse > 100) {
        drawSector(ctx, s.width, s.height, s.graph, s.view, s.effects, now);
        s.dirty = false;
        lastPulse = now;
      }
    };
    raf = requestAnimationFrame(loop);
    return () => {
      cancelAnimationFrame(raf);
      observer.disconnect();
    };
  }, []);

  // the box takes the stage's height (the HUD's, at least); the canvas fills the box
  return (
    <div class="sector">
      <canvas ref={canvas} role="img" aria-label={label} data-testid="sector-canvas" />
    </div>
  );
}
