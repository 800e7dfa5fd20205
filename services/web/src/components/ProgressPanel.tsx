// The trainer's and the evaluator's states and the current window's progress (env steps
// of window_env_steps, SPS, ETA), polled from /api/progress every two seconds: what
// the page says while the first replay is on its way, and between windows.

import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { compact, whole } from "../format";
import type { Progress } from "../types";

const POLL_MS = 2000;

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function ProgressPanel({ runId, compact: small = false }: { runId: string | null; compact?: boolean }) {
  const [progress, setProgress] = useState<Progress | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const poll = () => {
      api.progress().then((p) => { if (!stop) { setProgress(p); setFailed(false); } }, () => { if (!stop) setFailed(true); })
        .finally(() => { if (!stop) timer = window.setTimeout(poll, POLL_MS); });
    };
    poll();
    return () => { stop = true; window.clearTimeout(timer); };
  }, []);
  if (!progress) return failed ? <p class="muted" data-testid="progress-panel">Training progress is not available.</p> : null;
  const { trainer, evaluator, window: w } = progress;
  const other = w && runId && w.run_id !== runId;
  if (small && (!trainer.reachable || other)) return null;
  return (
    <section class="card progress-panel" aria-label="training progress" data-testid="progress-panel" aria-live="polite">
      <h2>Training now {other ? <span class="muted">(run {w!.run_id})</span> : null}</h2>
      <dl>
        <div><dt>Trainer</dt><dd data-testid="progress-trainer">{trainer.reachable ? `${trainer.state}` : "not reachable"}
          {trainer.reachable && trainer.error ? ` · ${trainer.error}` : ""}</dd></div>
        {w && (
          <div><dt>Window {w.window_id}</dt><dd>
            <span data-testid="progress-steps">{whole(w.env_steps)}</span>
            {w.window_env_steps ? ` of ${whole(w.window_env_steps)} env steps` : " env steps"}
            {w.fraction !== null && (
              <progress max={1} value={w.fraction} data-testid="progress-bar" aria-label={`window ${w.window_id} ${Math.round(w.fraction * 100)} percent`} />
            )}
            <span class="muted"> · {compact(w.sps)} SPS · ETA <span data-testid="progress-eta">{duration(w.eta_s)}</span></span>
          </dd></div>
        )}
        <div><dt>Evaluator</dt><dd data-testid="progress-evaluator">{evaluator.reachable
          ? `${evaluator.state}${evaluator.current_window !== undefined && evaluator.current_window !== null && evaluator.state === "evaluating" ? ` window ${evaluator.current_window}` : ""} · ${evaluator.queue_lag ?? 0} windows queued`
          : "not reachable"}</dd></div>
      </dl>
      {!small && <p class="muted">The evaluator records a replay when a window ends; this page switches to it as soon as it is announced.</p>}
    </section>
  );
}
