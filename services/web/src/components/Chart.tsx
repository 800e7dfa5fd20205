// One metric over training windows (uPlot): the main run, an optional second run
// overlaid, one point per window, values on hover, and markers for tagged replays
// (click one to open that replay).

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { compact, tickLabels } from "../format";

export interface Marker {
  x: number; // window id
  label: string;
  onOpen: () => void;
}

interface Props {
  title: string;
  xs: number[];
  /** the runs drawn, the first one the main run; `smoothed` (EMA) drawn bold with the raw values faint behind */
  runs: ChartRun[];
  markers: Marker[];
  format?: (v: number) => string;
  range?: [number, number];
  metric?: string;
  xLabel?: string;
}

export interface ChartRun { label: string; values: (number | null)[]; smoothed: (number | null)[] | null; color: string }

const HEIGHT = 170;

/** A range around [lo, hi] with a margin; a single value (one window) in the middle of one. */
export function fit(lo: number | null, hi: number | null): [number, number] {
  if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}
const MARK = 7; // marker size, css px

export function Chart({ title, xs, runs, markers, format = compact, range, metric, xLabel = "window" }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markersRef = useRef(markers);
  markersRef.current = markers;

  useEffect(() => {
    const el = box.current!;
    const fmt = (_u: uPlot, v: number | null) => (v == null ? "–" : format(v));
    const series: uPlot.Series[] = [{ label: xLabel, value: (_u, v) => (v == null ? "–" : compact(v)) }];
    const data: (number | null)[][] = [xs];
    runs.forEach((run, i) => {
      const faint = run.smoothed ? "40" : "";
      const dash = i === 0 ? undefined : [5, 4];
      series.push({ label: run.smoothed ? `${run.label} (raw)` : run.label, stroke: run.color + faint,
                    width: run.smoothed ? 1 : i === 0 ? 2 : 1.5, dash,
                    points: { show: true, size: run.smoothed ? 3 : 5, fill: run.color + faint }, value: fmt });
      data.push(run.values);
      if (run.smoothed) {
        series.push({ label: `${run.label} (EMA)`, stroke: run.color, width: 2, dash, value: fmt, spanGaps: true });
        data.push(run.smoothed);
      }
    });
    const drawMarkers = (u: uPlot) => {
      const ctx = u.ctx;
      const ratio = uPlot.pxRatio;
      ctx.save();
      ctx.fillStyle = "#5be49b";
      for (const m of markersRef.current) {
        const x = u.valToPos(m.x, "x", true);
        if (x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) continue;
        const y = u.bbox.top + 2 * ratio;
        ctx.beginPath();
        ctx.moveTo(x - MARK * ratio, y);
        ctx.lineTo(x + MARK * ratio, y);
        ctx.lineTo(x, y + MARK * 1.6 * ratio);
        ctx.closePath();
        ctx.fill();
      }
      ctx.restore();
    };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      series,
      // axes fit the data (a single window is centered, not at the left of a fixed axis)
      scales: { x: { time: false, range: (_u, lo, hi) => fit(lo, hi) },
                y: { range: range ? () => range : (_u, lo, hi) => fit(lo, hi) } },
      axes: [
        { stroke: "#8fa0cc", grid: { stroke: "#1d2a4d" }, ticks: { stroke: "#1d2a4d" }, label: xLabel, labelSize: 18,
          values: (_u, vals) => {
            const labels = tickLabels(vals, compact); // distinct even when zoomed in far
            return vals.map((v, i) => (xLabel === "window" && !Number.isInteger(v) ? "" : labels[i]));
          } },
        { stroke: "#8fa0cc", grid: { stroke: "#1d2a4d" }, ticks: { stroke: "#1d2a4d" }, size: 64,
          values: (_u, vals) => tickLabels(vals, format) }, // "3.081 3.082", never "3.08 3.08"
      ],
      legend: { live: true },
      cursor: { points: { size: 8 }, drag: { x: true, y: false, setScale: true } },
      hooks: {
        draw: [drawMarkers],
        // the x range shown, for people's tools and the tests (zoom: drag; reset: double-click)
        setScale: [(u, key) => {
          if (key !== "x") return;
          const fig = el.closest("figure");
          fig?.setAttribute("data-x-min", String(u.scales.x.min));
          fig?.setAttribute("data-x-max", String(u.scales.x.max));
        }],
      },
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = u;
    const onClick = (e: MouseEvent) => {
      const rect = u.over.getBoundingClientRect();
      const x = e.clientX - rect.left;
      const y = e.clientY - rect.top;
      if (y > MARK * 2.5) return;
      const hit = markersRef.current.find((m) => Math.abs(u.valToPos(m.x, "x") - x) <= MARK + 2);
      hit?.onOpen();
    };
    u.over.addEventListener("click", onClick);
    const observer = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.over.removeEventListener("click", onClick);
      u.destroy();
      plot.current = null;
    };
  }, [xs, runs.map((r) => r.label).join(), ...runs.map((r) => r.values), ...runs.map((r) => r.smoothed), xLabel]);

  useEffect(() => plot.current?.redraw(false), [markers]);

  const drawn = runs[0]?.values.filter((v) => v !== null).length ?? 0;
  return (
    <figure class="chart" data-points={drawn} data-runs={runs.length} data-metric={metric} data-x={xLabel}>
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" />
    </figure>
  );
}
