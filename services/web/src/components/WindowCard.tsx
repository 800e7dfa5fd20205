// The summary card of one training window: its metrics, each with a small trend line
// over the windows up to it.

import { metricValue, WINDOW_METRICS } from "../format";
import type { WindowRow } from "../types";
import { Sparkline } from "./Sparkline";

const TREND = 20; // windows in a trend line

export function WindowCard({ windows, windowId }: { windows: WindowRow[]; windowId: number }) {
  const at = windows.findIndex((w) => w.window_id === windowId);
  if (at < 0) return <section class="card window-card"><h2>Window {windowId}</h2><p class="muted">no metrics for this window</p></section>;
  const row = windows[at];
  const history = windows.slice(Math.max(0, at - TREND + 1), at + 1);
  return (
    <section class="card window-card" aria-label={`window ${windowId} summary`} data-testid="window-card">
      <h2>Window {windowId} <span class="muted">· {row.env_steps_total.toLocaleString("en-US")} env steps
        {row.metrics.episodes_in_window !== undefined ? ` · ${row.metrics.episodes_in_window} episodes` : ""}</span></h2>
      <dl>
        {WINDOW_METRICS.map((m) => {
          const value = metricValue(row.metrics, m.key);
          const trend = history.map((w) => metricValue(w.metrics, m.key));
          return (
            <div class="metric" key={m.key}>
              <dt>{m.label}</dt>
              <dd>
                <span class="num">{value === null ? "–" : m.format(value)}</span>
                <Sparkline values={trend} width={56} height={16} color="#7f9cff" label={`${m.label} over the last ${trend.length} windows`} />
              </dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}
