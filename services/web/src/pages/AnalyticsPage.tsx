// `/analytics`: a run's window metrics as charts, a second run overlaid for comparison,
// and markers where a replay was tagged best_so_far or milestone:* (click to watch it).

import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { Chart, type Marker } from "../components/Chart";
import { Problem } from "../components/Problem";
import { compact, metricValue, WINDOW_METRICS } from "../format";
import { navigate } from "../router";
import type { Replay, Run, WindowRow } from "../types";

/** The x values (window ids of both runs, sorted) and each run's metric aligned to them (null where missing). */
export function alignWindows(main: WindowRow[], other: WindowRow[] | null, key: string):
    { xs: number[]; main: (number | null)[]; other: (number | null)[] | null } {
  const ids = [...new Set([...main, ...(other ?? [])].map((w) => w.window_id))].sort((a, b) => a - b);
  const pick = (rows: WindowRow[]) => {
    const by = new Map(rows.map((w) => [w.window_id, metricValue(w.metrics, key)]));
    return ids.map((id) => by.get(id) ?? null);
  };
  return { xs: ids, main: pick(main), other: other ? pick(other) : null };
}

export function isMarked(tags: string[]): boolean {
  return tags.some((t) => t === "best_so_far" || t.startsWith("milestone:"));
}

export function AnalyticsPage({ params }: { params: URLSearchParams }) {
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [windows, setWindows] = useState<WindowRow[] | null>(null);
  const [other, setOther] = useState<WindowRow[] | null>(null);
  const [replays, setReplays] = useState<Replay[]>([]);
  const [error, setError] = useState<unknown>(null);
  const runId = params.get("run") ?? runs?.[0]?.run_id ?? null;
  const compareId = params.get("compare");

  useEffect(() => { api.runs().then(setRuns, setError); }, []);
  useEffect(() => {
    if (!runId) return;
    setWindows(null);
    api.windows(runId).then(setWindows, setError);
    api.replays(runId).then(setReplays, () => setReplays([]));
  }, [runId]);
  useEffect(() => {
    if (!compareId) { setOther(null); return; }
    api.windows(compareId).then(setOther, setError);
  }, [compareId]);

  const marked = useMemo(() => replays.filter((r) => isMarked(r.tags)), [replays]);
  const markers: Marker[] = useMemo(() => marked.map((r) => ({
    x: r.window_id, label: `${r.tags.filter((t) => t !== "every_window").join(" ")} · w${r.window_id}`,
    onOpen: () => navigate("replay", { run: r.run_id, replay: r.replay_id }),
  })), [marked]);
  const charts = useMemo(() => (windows ? WINDOW_METRICS.map((m) => ({ m, ...alignWindows(windows, other, m.key) })) : []),
                         [windows, other]);

  if (error) return <Problem error={error} />;
  if (!runs) return <p class="loading">Loading runs…</p>;
  if (runs.length === 0) return <Problem empty="No training runs yet: start one with `prospector train --config demo`." />;

  const pick = (changes: Record<string, string | null>) => navigate("analytics", { run: params.get("run"), compare: compareId, ...changes });

  return (
    <div class="analytics-page">
      <form class="pickers" aria-label="choose runs" onSubmit={(e) => e.preventDefault()}>
        <label>Run
          <select data-testid="analytics-run" value={runId ?? ""} onChange={(e) => pick({ run: e.currentTarget.value })}>
            {runs.map((r) => <option key={r.run_id} value={r.run_id}>{r.run_id} · {r.status}</option>)}
          </select>
        </label>
        <label>Compare with
          <select data-testid="analytics-compare" value={compareId ?? ""} onChange={(e) => pick({ compare: e.currentTarget.value || null })}>
            <option value="">none</option>
            {runs.filter((r) => r.run_id !== runId).map((r) => <option key={r.run_id} value={r.run_id}>{r.run_id}</option>)}
          </select>
        </label>
        <span class="muted">
          <span data-testid="analytics-window-count">{windows?.length ?? 0}</span> windows
          {windows && windows.length > 0 ? ` · ${compact(windows[windows.length - 1].env_steps_total)} env steps` : ""}
        </span>
      </form>
      {windows === null && <p class="loading">Loading windows…</p>}
      {windows !== null && windows.length === 0 && <Problem empty={`Run ${runId} has no finished training window yet.`} />}
      {windows !== null && windows.length > 0 && (
        <>
          <div class="charts">
            {charts.map(({ m, xs, main, other: cmp }) => (
              <Chart key={m.key} title={m.label} xs={xs} main={main} compare={cmp} mainLabel={runId ?? ""}
                     compareLabel={compareId ?? undefined} markers={markers} format={m.format} range={m.range} />
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
        </>
      )}
    </div>
  );
}
