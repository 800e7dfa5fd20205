// `/analytics`: a run's window metrics as charts, a second run overlaid for comparison,
// and markers where a replay was tagged best_so_far or milestone:* (click to watch it).

import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { Chart, type Marker } from "../components/Chart";
import { Problem } from "../components/Problem";
import { chartableMetrics, compact, metricValue } from "../format";
import { PRETRAINED_LABEL, runLabel, runName, usePretrained } from "../pretrained";
import { navigate } from "../router";
import type { Replay, Run, WindowRow } from "../types";

export type XAxis = "env_steps" | "window" | "wall_time";
export const X_AXES: [XAxis, string][] = [["env_steps", "env steps"], ["window", "window"], ["wall_time", "wall time (s)"]];

/** Where a window sits on the chosen x-axis. */
export function xOf(w: WindowRow, axis: XAxis = "window"): number {
  if (axis === "env_steps") return w.env_steps_total;
  if (axis === "wall_time") return metricValue(w.metrics, "wall_time") ?? w.window_id;
  return w.window_id;
}

/** The x values (of both runs, sorted) and each run's metric aligned to them (null where missing). */
export function alignWindows(main: WindowRow[], other: WindowRow[] | null, key: string, axis: XAxis = "window"):
    { xs: number[]; main: (number | null)[]; other: (number | null)[] | null } {
  const ids = [...new Set([...main, ...(other ?? [])].map((w) => xOf(w, axis)))].sort((a, b) => a - b);
  const pick = (rows: WindowRow[]) => {
    const by = new Map(rows.map((w) => [xOf(w, axis), metricValue(w.metrics, key)]));
    return ids.map((id) => by.get(id) ?? null);
  };
  return { xs: ids, main: pick(main), other: other ? pick(other) : null };
}

/** The x values of several runs (sorted union) and each run's metric aligned to them. */
export function alignRuns(runs: WindowRow[][], key: string, axis: XAxis = "env_steps"): { xs: number[]; values: (number | null)[][] } {
  const xs = [...new Set(runs.flat().map((w) => xOf(w, axis)))].sort((a, b) => a - b);
  const values = runs.map((rows) => {
    const by = new Map(rows.map((w) => [xOf(w, axis), metricValue(w.metrics, key)]));
    return xs.map((x) => by.get(x) ?? null);
  });
  return { xs, values };
}

/** A run's config flattened to dotted keys ("train.learning_rate": 0.0003). */
export function flatten(value: unknown, prefix = "", out: Record<string, string> = {}): Record<string, string> {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = JSON.stringify(value);
  }
  return out;
}

/** The config keys whose values differ between two runs: [key, a, b]. */
export function configDiff(a: Record<string, unknown>, b: Record<string, unknown>): [string, string, string][] {
  const fa = flatten(a);
  const fb = flatten(b);
  return [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort()
    .filter((k) => fa[k] !== fb[k]).map((k) => [k, fa[k] ?? "–", fb[k] ?? "–"]);
}

export const RUN_COLORS = ["#f2c14e", "#7f9cff", "#5be49b", "#d96bd9", "#ff8f5c", "#4fd1ff"];

/** Exponential moving average over the non-null values (nulls stay null); alpha in (0, 1], 1 = raw. */
export function ema(values: (number | null)[], alpha: number): (number | null)[] {
  let acc: number | null = null;
  return values.map((v) => {
    if (v === null) return null;
    acc = acc === null ? v : alpha * v + (1 - alpha) * acc;
    return acc;
  });
}

export function isMarked(tags: string[]): boolean {
  return tags.some((t) => t === "best_so_far" || t.startsWith("milestone:"));
}

export function AnalyticsPage({ params }: { params: URLSearchParams }) {
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [windows, setWindows] = useState<WindowRow[] | null>(null);
  const [others, setOthers] = useState<WindowRow[][]>([]);
  const [replays, setReplays] = useState<Replay[]>([]);
  const [error, setError] = useState<unknown>(null);
  const pretrainedId = usePretrained().runId;
  const runId = params.get("run") ?? runs?.[0]?.run_id ?? null;
  const compareIds = (params.get("compare") ?? "").split(",").filter(Boolean);
  const compareId = compareIds.join(",") || null;
  const axis = (X_AXES.find(([a]) => a === params.get("x"))?.[0] ?? "env_steps") as XAxis;
  const smooth = Number(params.get("smooth") ?? "0"); // 0: raw; 0.1..0.9: EMA weight of the past

  useEffect(() => { api.runs().then(setRuns, setError); }, []);
  // each effect drops answers that come after its run was switched away from (a slow answer
  // for the run shown before must not be drawn under the run shown now)
  useEffect(() => {
    if (!runId) return;
    let current = true;
    setWindows(null);
    api.windows(runId).then((w) => { if (current) setWindows(w); }, (e) => { if (current) setError(e); });
    api.replays(runId).then((r) => { if (current) setReplays(r); }, () => { if (current) setReplays([]); });
    return () => { current = false; };
  }, [runId]);
  useEffect(() => {
    if (!compareIds.length) { setOthers([]); return; }
    let current = true;
    Promise.all(compareIds.map((id) => api.windows(id))).then((o) => { if (current) setOthers(o); },
                                                                (e) => { if (current) setError(e); });
    return () => { current = false; };
  }, [compareId]);

  const marked = useMemo(() => replays.filter((r) => isMarked(r.tags)), [replays]);
  const markers: Marker[] = useMemo(() => marked.map((r) => ({
    x: xOf(windows?.find((w) => w.window_id === r.window_id) ?? ({ window_id: r.window_id, env_steps_total: 0, metrics: {} } as unknown as WindowRow), axis), label: `${r.tags.filter((t) => t !== "every_window").join(" ")} · w${r.window_id}`,
    onOpen: () => navigate("replay", { run: r.run_id, replay: r.replay_id }),
  })), [marked, windows, axis]);
  const charts = useMemo(() => {
    if (!windows) return [];
    const all = [windows, ...others];
    return chartableMetrics(all.flat()).map((m) => {
      const { xs, values } = alignRuns(all, m.key, axis);
      return { m, xs, values, smoothed: smooth > 0 ? values.map((v) => ema(v, 1 - smooth)) : null };
    });
  }, [windows, others, axis, smooth]);
  const runLabels = [runId ?? "", ...compareIds].map((id) => runName(id, pretrainedId));

  if (error) return <Problem error={error} />;
  if (!runs) return <p class="loading">Loading runs…</p>;
  if (runs.length === 0) return <Problem empty="No training runs yet: start one with `prospector train --config demo`." />;

  const pick = (changes: Record<string, string | null>) => navigate("analytics", {
    run: params.get("run"), compare: compareId, x: params.get("x"), smooth: params.get("smooth"), ...changes });

  return (
    <div class="analytics-page">
      <form class="pickers" aria-label="choose runs" onSubmit={(e) => e.preventDefault()}>
        <label>Run
          <select data-testid="analytics-run" value={runId ?? ""} onChange={(e) => pick({ run: e.currentTarget.value })}>
            {runs.map((r) => <option key={r.run_id} value={r.run_id}>{runLabel(r, pretrainedId)}</option>)}
          </select>
        </label>
        <details class="overlay-picker" data-testid="analytics-compare">
          <summary>Overlay runs ({compareIds.length})</summary>
          {runs.filter((r) => r.run_id !== runId).map((r) => (
            <label key={r.run_id} class="check"><input type="checkbox" value={r.run_id} checked={compareIds.includes(r.run_id)}
              data-testid={`overlay-${r.run_id}`}
              onChange={(e) => pick({ compare: (e.currentTarget.checked ? [...compareIds, r.run_id] : compareIds.filter((c) => c !== r.run_id)).join(",") || null })} />
              {r.run_id}{r.run_id === pretrainedId && <span class="badge pretrained">{PRETRAINED_LABEL}</span>}</label>
          ))}
        </details>
        <label>x-axis
          <select data-testid="analytics-x" value={axis} onChange={(e) => pick({ x: e.currentTarget.value === "env_steps" ? null : e.currentTarget.value })}>
            {X_AXES.map(([a, text]) => <option key={a} value={a}>{text}</option>)}
          </select>
        </label>
        <label>Smoothing (EMA)
          <select data-testid="analytics-smooth" value={String(smooth)} onChange={(e) => pick({ smooth: e.currentTarget.value === "0" ? null : e.currentTarget.value })}>
            {[0, 0.3, 0.6, 0.9].map((v) => <option key={v} value={String(v)}>{v === 0 ? "off" : v}</option>)}
          </select>
        </label>
        {runId === pretrainedId && <span class="badge pretrained" data-testid="analytics-pretrained">{PRETRAINED_LABEL}</span>}
        <span class="muted">drag on a chart to zoom, double-click to reset ·{" "}
          <span data-testid="analytics-window-count">{windows?.length ?? 0}</span> windows
          {windows && windows.length > 0 ? ` · ${compact(windows[windows.length - 1].env_steps_total)} env steps` : ""}
        </span>
      </form>
      {windows === null && <p class="loading">Loading windows…</p>}
      {windows !== null && windows.length === 0 && <Problem empty={`Run ${runId} has no finished training window yet.`} />}
      {windows !== null && windows.length > 0 && (
        <>
          <div class="charts">
            {charts.map(({ m, xs, values, smoothed }) => (
              <Chart key={m.key} metric={m.key} title={m.label} xs={xs} markers={markers} format={m.format} range={m.range}
                     xLabel={X_AXES.find(([a]) => a === axis)![1]}
                     runs={values.map((v, i) => ({ label: runLabels[i], values: v, smoothed: smoothed?.[i] ?? null,
                                                   color: RUN_COLORS[i % RUN_COLORS.length] }))} />
            ))}
          </div>
          <section class="card" aria-label="tagged replays">
            <h2>Tagged replays <span class="muted">(▼ on the charts)</span></h2>
            {marked.length === 0 && <p class="muted">No best_so_far or milestone replays in this run yet.</p>}
            <ul class="marker-list">
              {markers.map((m, i) => (
                <li key={marked[i].replay_id}><button type="button" data-testid="marker" onClick={m.onOpen}>{m.label}</button>
                  <span class="muted"> net profit {compact(marked[i].net_profit)}</span></li>
              ))}
            </ul>
          </section>
          <section class="card" aria-label="run configs" data-testid="run-configs">
            <h2>Configs</h2>
            {[runId, ...compareIds].map((id) => {
              const run = runs.find((r) => r.run_id === id);
              return run && (
                <details key={id}><summary>{runName(id!, pretrainedId)}</summary><pre class="config">{JSON.stringify(run.config, null, 2)}</pre></details>
              );
            })}
            {compareIds.length > 0 && (() => {
              const a = runs.find((r) => r.run_id === runId);
              const b = runs.find((r) => r.run_id === compareIds[0]);
              if (!a || !b) return null;
              const diff = configDiff(a.config, b.config);
              return (
                <details open data-testid="config-diff"><summary>Diff: {a.run_id} vs {b.run_id} ({diff.length} keys differ)</summary>
                  <table><tbody>{diff.map(([k, x, y]) => <tr key={k}><td>{k}</td><td class="num">{x}</td><td class="num">{y}</td></tr>)}</tbody></table>
                </details>
              );
            })()}
          </section>
        </>
      )}
    </div>
  );
}
