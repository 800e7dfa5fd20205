// One metric over training windows (uPlot): the main run, an optional second run
// overlaid, one point per window, values on hover, and markers for tagged replays
// (click one to open that replay).

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { compact } from "../format";

export interface Marker {
  x: number; // window id
  label: string;
  onOpen: () => void;
}

interface Props {
  title: string;
  xs: number[];
  main: (number | null)[];
  compare?: (number | null)[] | null;
  mainLabel: string;
  compareLabel?: string;
  markers: Marker[];
  format?: (v: number) => string;
  range?: [number, number];
}

const HEIGHT = 170;
const MARK = 7; // marker size, css px

export function Chart({ title, xs, main, compare, mainLabel, compareLabel, markers, format = compact, range }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markersRef = useRef(markers);
  markersRef.current = markers;

  useEffect(() => {
    const el = box.current!;
    const series: uPlot.Series[] = [
      { label: "window" },
      { label: mainLabel, stroke: "#f2c14e", width: 2, points: { show: true, size: 6, fill: "#f2c14e" }, value: (_u, v) => (v == null ? "–" : format(v)) },
    ];
    const data: uPlot.AlignedData = [xs, main];
    if (compare) {
      series.push({ label: compareLabel ?? "compare", stroke: "#7f9cff", width: 1.5, dash: [5, 4],
                    points: { show: true, size: 5, fill: "#7f9cff" }, value: (_u, v) => (v == null ? "–" : format(v)) });
      (data as (number | null)[][]).push(compare);
    }
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
      scales: { x: { time: false }, ...(range ? { y: { range: () => range } } : {}) },
      axes: [
        { stroke: "#8fa0cc", grid: { stroke: "#1d2a4d" }, ticks: { stroke: "#1d2a4d" }, label: "window", labelSize: 18,
          values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : "")) },
        { stroke: "#8fa0cc", grid: { stroke: "#1d2a4d" }, ticks: { stroke: "#1d2a4d" }, size: 64,
          values: (_u, vals) => vals.map((v) => format(v)) },
      ],
      legend: { live: true },
      cursor: { points: { size: 8 } },
      hooks: { draw: [drawMarkers] },
    };
    const u = new uPlot(opts, data, el);
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
  }, [xs, main, compare]);

  useEffect(() => plot.current?.redraw(false), [markers]);

  const drawn = main.filter((v) => v !== null).length;
  return (
    <figure class="chart" data-points={drawn}>
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" />
    </figure>
  );
}
