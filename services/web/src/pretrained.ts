// The pretrained agent's run: the shipped model, registered as a finished run of its own
// (`prospector train --pretrained register`, what `make up` and the compose stack do), so a
// fresh stack has a trained agent to show while its own run is still learning. The page
// knows it by /api/meta's `pretrained.run_id` and labels it wherever runs are listed.

import { useEffect, useState } from "preact/hooks";
import { sharedMeta } from "./api";
import type { Meta, PretrainedModel, Run } from "./types";

export const PRETRAINED_LABEL = "pretrained agent";

/** The run id of the served pretrained model (null: none served, or an API that does not say). */
export function pretrainedRunOf(meta: Pick<Meta, "pretrained"> | null | undefined): string | null {
  return meta?.pretrained?.run_id ?? null;
}

/** A run as the pickers list it: "<run id> · <status>", and " · pretrained agent" for that run. */
export function runLabel(run: Pick<Run, "run_id" | "status">, pretrainedRunId: string | null): string {
  return `${run.run_id} · ${run.status}${run.run_id === pretrainedRunId ? ` · ${PRETRAINED_LABEL}` : ""}`;
}

/** A run's name on a chart legend: its id, marked when it is the pretrained agent's. */
export function runName(runId: string, pretrainedRunId: string | null): string {
  return runId === pretrainedRunId ? `${runId} (${PRETRAINED_LABEL})` : runId;
}

/** The run trained beside the pretrained one: the newest other run (runs come newest first). */
export function freshRunBeside(runs: Run[], pretrainedRunId: string | null): Run | null {
  return runs.find((r) => r.run_id !== pretrainedRunId) ?? null;
}

/**
 * Whether `/` opens on the pretrained agent (the first start of a stack): nothing picked in the
 * URL, the pretrained run is in the catalog, and the run beside it (if any) is still training.
 * Once that run has finished, the page follows the newest run's replays as it always has.
 */
export function opensOnPretrained(runs: Run[], pretrainedRunId: string | null, params: URLSearchParams): boolean {
  if (!pretrainedRunId || params.get("run") || params.get("replay")) return false;
  if (!runs.some((r) => r.run_id === pretrainedRunId)) return false;
  const fresh = freshRunBeside(runs, pretrainedRunId);
  return fresh === null || fresh.status === "running";
}

export interface PretrainedInfo {
  /** /api/meta has answered (or failed: then there is no pretrained run to show). */
  ready: boolean;
  model: PretrainedModel | null;
  runId: string | null;
}

/** The pretrained model of /api/meta (asked once for the whole page). */
export function usePretrained(): PretrainedInfo {
  const [info, setInfo] = useState<PretrainedInfo>({ ready: false, model: null, runId: null });
  useEffect(() => {
    let live = true;
    sharedMeta().then(
      (meta) => { if (live) setInfo({ ready: true, model: meta.pretrained ?? null, runId: pretrainedRunOf(meta) }); },
      () => { if (live) setInfo({ ready: true, model: null, runId: null }); },
    );
    return () => { live = false; };
  }, []);
  return info;
}
