// Reward (bars) and credits (line) across the whole episode, with the playhead.
// The series is drawn once into an offscreen canvas (again only when more of it is
// known or the size changes); each playhead move just copies it and draws a line.
// Click or drag to seek (when `onSeek` is given).

import { useEffect, useRef } from "preact/hooks";
import type { Series } from "../decode";
import { compact, credits as fmtCredits } from "../format";

interface Props {
  series: Series;
  count: number; // frames in the episode (or played so far)
  position: number;
  version: number; // changes when more of the series is known
  onSeek?: (index: number) => void;
}

function drawSeries(ctx: CanvasRenderingContext2D, w: number, h: number, series: Series, count: number): void {
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#0f1730";
  ctx.fillRect(0, 0, w, h);
  if (count <= 0 || series.filled === 0) {
    ctx.font = "11px ui-sans-serif, system-ui, sans-serif";
    ctx.fillStyle = "#8fa0cc";
    ctx.textBaseline = "middle";
    ctx.fillText("reward and credits appear here as the episode goes", 6, h / 2);
    return;
  }
  const x = (i: number) => (count === 1 ? w / 2 : (i / (count - 1)) * (w - 1));
  // reward: per pixel column, the sum of rewards of the frames in it
  const [rlo, rhi] = series.range(series.reward);
  const rmax = Math.max(Math.abs(rlo), Math.abs(rhi), 1e-9);
  const mid = h * 0.5;
  for (let i = 0; i < count; i++) {
    if (!series.known[i]) continue;
    const r = series.reward[i];
    if (r === 0) continue;
    const bar = (r / rmax) * (h * 0.45);
    ctx.fillStyle = r > 0 ? "rgba(91,228,155,0.55)" : "rgba(255,93,108,0.55)";
    ctx.fillRect(Math.floor(x(i)), r > 0 ? mid - bar : mid, 1, Math.abs(bar) || 1);
  }
  // credits
  const [clo, chi] = series.range(series.credits);
  const span = chi - clo || 1;
  ctx.strokeStyle = "#f2c14e";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let started = false;
  for (let i = 0; i < count; i++) {
    if (!series.known[i]) {
      started = false;
      continue;
    }
    const y = h - 4 - ((series.credits[i] - clo) / span) * (h - 8);
    if (started) ctx.lineTo(x(i), y);
    else ctx.moveTo(x(i), y);
    started = true;
  }
  ctx.stroke();
  ctx.font = "10px ui-sans-serif, system-ui, sans-serif";
  ctx.fillStyle = "#f2c14e";
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText(`credits ${fmtCredits(clo)} … ${fmtCredits(chi)}`, 4, 3);
  ctx.fillStyle = "#8fa0cc";
  ctx.textAlign = "right";
  ctx.fillText("reward per step", w - 4, 3);
  if (series.withPolicy > 0) {
    // the policy's value estimate and entropy, each scaled to the height (their ranges in the labels)
    const lines: [Float32Array, string, string][] = [[series.value, "#4fd1ff", "value"], [series.entropy, "#d96bd9", "entropy"]];
    ctx.textBaseline = "bottom";
    lines.forEach(([values, color, name], k) => {
      const [lo, hi] = series.range(values);
      const spread = hi - lo || 1;
      ctx.strokeStyle = color;
      ctx.lineWidth = 1;
      ctx.beginPath();
      let on = false;
      for (let i = 0; i < count; i++) {
        const v = values[i];
        if (!series.known[i] || Number.isNaN(v)) { on = false; continue; }
        const y = h - 4 - ((v - lo) / spread) * (h - 8);
        if (on) ctx.lineTo(x(i), y);
        else ctx.moveTo(x(i), y);
        on = true;
      }
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.textAlign = k === 0 ? "left" : "right";
      ctx.fillText(`${name} ${compact(lo)} … ${compact(hi)}`, k === 0 ? 4 : w - 4, h - 2);
    });
  }
}

export function Timeline({ series, count, position, version, onSeek }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const cache = useRef<{ img: HTMLCanvasElement | null; key: string }>({ img: null, key: "" });
  const size = useRef({ w: 0, h: 0, ratio: 1 });

  const redraw = () => {
    const el = canvas.current;
    if (!el) return;
    const { w, h, ratio } = size.current;
    if (w === 0) return;
    const key = `${w}x${h}@${ratio}:${version}:${count}:${series.filled}`;
    if (cache.current.key !== key) {
      const img = cache.current.img ?? document.createElement("canvas");
      img.width = Math.round(w * ratio);
      img.height = Math.round(h * ratio);
      const c = img.getContext("2d")!;
      c.setTransform(ratio, 0, 0, ratio, 0, 0);
      drawSeries(c, w, h, series, count);
      cache.current = { img, key };
    }
    const ctx = el.getContext("2d")!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, el.width, el.height);
    ctx.drawImage(cache.current.img!, 0, 0);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const px = count <= 1 ? w / 2 : (position / (count - 1)) * (w - 1);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(Math.round(px) - 1, 0, 2, h);
  };

  useEffect(() => {
    const el = canvas.current!;
    const observer = new ResizeObserver(() => {
      const box = el.getBoundingClientRect();
      const ratio = window.devicePixelRatio || 1;
      size.current = { w: Math.max(1, Math.round(box.width)), h: Math.max(1, Math.round(box.height)), ratio };
      el.width = Math.round(size.current.w * ratio);
      el.height = Math.round(size.current.h * ratio);
      redraw();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(redraw);

  const seekAt = (event: PointerEvent) => {
    if (!onSeek || count <= 0) return;
    const box = canvas.current!.getBoundingClientRect();
    const f = Math.max(0, Math.min(1, (event.clientX - box.left) / Math.max(1, box.width)));
    onSeek(Math.round(f * (count - 1)));
  };

  return (
    <canvas
      ref={canvas}
      class="timeline"
      data-testid="timeline"
      role="img"
      aria-label={`episode timeline, frame ${position + 1} of ${count}`}
      onPointerDown={(e) => {
        if (!onSeek) return;
        (e.target as HTMLElement).setPointerCapture(e.pointerId);
        seekAt(e);
      }}
      onPointerMove={(e) => { if (e.buttons & 1) seekAt(e); }}
    />
  );
}
