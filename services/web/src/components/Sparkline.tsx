// A tiny line chart (SVG) for trends: prices over recent frames, a metric over windows.

interface Props {
  values: ArrayLike<number | null>;
  width?: number;
  height?: number;
  color?: string;
  label?: string;
}

/** The SVG points of `values` scaled into width x height (nulls skipped); "" with fewer than 2 values. */
export function sparkPoints(values: ArrayLike<number | null>, width: number, height: number): string {
  const pts: [number, number][] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!(hi >= lo)) return "";
  const span = hi - lo || 1;
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) continue;
    const x = n === 1 ? width / 2 : (i / (n - 1)) * (width - 2) + 1;
    const y = height - 1 - ((v - lo) / span) * (height - 2);
    pts.push([x, y]);
  }
  return pts.length < 2 ? "" : pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
}

export function Sparkline({ values, width = 64, height = 18, color = "currentColor", label }: Props) {
  const points = sparkPoints(values, width, height);
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img"
         aria-label={label ?? "trend"}>
      {points && <polyline points={points} fill="none" stroke={color} stroke-width="1.5" />}
    </svg>
  );
}
