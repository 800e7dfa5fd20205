// The API client: every request the page makes goes through here.
//
// (windows are asked for 500 at a time: limit=1000 answers 500, the catalog gets limit+1.)
//
// Same origin by default (the API serves the built page at /). For split hosting,
// build with VITE_API_BASE=https://api.example or set localStorage "prospector.apiBase".

import type {
  FramePage, Meta, Progress, Replay, ReplayAnnouncement, ReplayDetail, Run, Session, StepResult, WindowAnnouncement,
  WindowRow,
} from "./types";
import type { Suggestion } from "./autopilot";

export function apiBase(): string {
  let stored: string | null = null;
  try {
    stored = globalThis.localStorage?.getItem("prospector.apiBase") ?? null;
  } catch {
    stored = null; // storage blocked: same origin
  }
  const base = stored ?? (import.meta.env?.VITE_API_BASE as string | undefined) ?? "";
  return base.replace(/\/+$/, "");
}

/** An answer from the API that is not a success; `status` 0 when the API could not be reached. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/** The human-readable reason of a FastAPI error body ({"detail": "..."} or a 422 list). */
export function errorDetail(body: unknown): string | null {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => (d && typeof d === "object" && "msg" in d ? String(d.msg) : String(d))).join("; ");
    }
  }
  return null;
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiBase() + path, {
      ...init,
      headers: { Accept: "application/json", ...(init?.body ? { "Content-Type": "application/json" } : {}) },
    });
  } catch (err) {
    throw new ApiError(0, `the API at ${apiBase() || location.origin} cannot be reached (${String(err)})`);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, errorDetail(body) ?? `${response.status} ${response.statusText} on ${path}`);
  }
  if (body === null && text) throw new ApiError(response.status, `${path} did not answer JSON`);
  return body as T;
}

const post = <T>(path: string, body: unknown) => request<T>(path, { method: "POST", body: JSON.stringify(body) });
const enc = encodeURIComponent;

export const api = {
  meta: () => request<Meta>("/api/meta"),
  progress: () => request<Progress>("/api/progress"),
  runs: () => request<{ items: Run[] }>("/api/runs").then((r) => r.items),
  run: (runId: string) => request<Run>(`/api/runs/${enc(runId)}`),

  /** Every window of a run, in order (follows next_after). */
  async windows(runId: string): Promise<WindowRow[]> {
    const rows: WindowRow[] = [];
    let after: number | null = null;
    do {
      const query: string = after === null ? "" : `&after=${after}`;
      const page: { items: WindowRow[]; next_after: number | null } =
        await request(`/api/runs/${enc(runId)}/metrics/windows?limit=500${query}`);
      rows.push(...page.items);
      after = page.next_after;
    } while (after !== null);
    return rows;
  },

  /** Every replay of a run (optionally of one tag), in window order (follows next_cursor). */
  async replays(runId: string, tag?: string): Promise<Replay[]> {
    const items: Replay[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams({ limit: "1000" });
      if (tag) params.set("tag", tag);
      if (cursor) params.set("cursor", cursor);
      const page: { items: Replay[]; next_cursor: string | null } =
        await request(`/api/runs/${enc(runId)}/replays?${params}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return items;
  },

  replay: (runId: string, replayId: string) =>
    request<ReplayDetail>(`/api/runs/${enc(runId)}/replays/${enc(replayId)}`),

  frames: (runId: string, replayId: string, offset: number, limit: number) =>
    request<FramePage>(`/api/runs/${enc(runId)}/replays/${enc(replayId)}/frames?offset=${offset}&limit=${limit}`),

  createSession: (seed: number | null, config?: Record<string, unknown>) =>
    post<Session>("/api/play/sessions", { ...(seed === null ? {} : { seed }), ...(config ? { config } : {}) }),
  step: (sessionId: string, action: number) => post<StepResult>(`/api/play/sessions/${enc(sessionId)}/step`, { action }),
  reset: (sessionId: string, seed: number | null) =>
    post<Session>(`/api/play/sessions/${enc(sessionId)}/reset`, seed === null ? {} : { seed }),
  /** What the pretrained agent would do in the session's current state (503: no model served). */
  suggest: (sessionId: string) => request<Suggestion>(`/api/play/sessions/${enc(sessionId)}/suggest`, { method: "POST" }),
  /** Frees the session's slot; keepalive so it also works while the page unloads. */
  closeSession(sessionId: string): void {
    fetch(`${apiBase()}/api/play/sessions/${enc(sessionId)}`, { method: "DELETE", keepalive: true }).catch(() => {});
  },
};

let metaOnce: Promise<Meta> | null = null;

/** /api/meta, asked once for the whole page (the vocabulary, the pretrained agent); asked again
 * after a failure. */
export function sharedMeta(): Promise<Meta> {
  if (!metaOnce) {
    metaOnce = api.meta();
    metaOnce.catch(() => { metaOnce = null; });
  }
  return metaOnce;
}

export interface LiveHandlers {
  replay?: (message: ReplayAnnouncement) => void;
  window?: (message: WindowAnnouncement) => void;
}

/** New windows and replays as they are announced (Server-Sent Events); returns the unsubscribe. */
export function subscribeLive(handlers: LiveHandlers): () => void {
  if (typeof EventSource === "undefined") return () => {};
  const source = new EventSource(`${apiBase()}/api/events`);
  const listen = <T>(name: string, handle?: (message: T) => void) => {
    if (!handle) return;
    source.addEventListener(name, (event) => {
      try {
        handle(JSON.parse((event as MessageEvent).data) as T);
      } catch {
        // a malformed event is skipped; the next one still arrives
      }
    });
  };
  listen("replay", handlers.replay);
  listen("window", handlers.window);
  return () => source.close();
}
