// `/`: pick a run, a window and a replay (tag filters), watch it, and read the window's
// summary. With no replay in the URL the page follows the latest run's latest
// every_window replay, switching when a new one is announced (live events).
//
// On a stack's first start (the pretrained agent registered as a run of its own, a fresh run
// still training: see ../pretrained.ts) it opens on the pretrained agent's best replay instead,
// says that the fresh run trains beside it, and offers its latest replay once there is one.

import { ProgressPanel } from "../components/ProgressPanel";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, subscribeLive } from "../api";
import { Problem } from "../components/Problem";
import { ReplayPlayer } from "../components/ReplayPlayer";
import { WindowCard } from "../components/WindowCard";
import { compact, shortTime } from "../format";
import { navigate } from "../router";
import { freshRunBeside, opensOnPretrained, PRETRAINED_LABEL, runLabel, usePretrained } from "../pretrained";
import type { Replay, ReplayDetail, Run, WindowRow } from "../types";

export const TAG_FILTERS = ["all", "every_window", "best_so_far", "milestone:*"] as const;

/** Windows this early are expected to lose money (a fresh policy wanders, wastes fuel, pays penalties). */
const EARLY_WINDOWS = 5;

export function tagMatches(filter: string, tags: string[]): boolean {
  if (filter === "all") return true;
  if (filter.endsWith(":*")) return tags.some((t) => t.startsWith(filter.slice(0, -1)));
  return tags.includes(filter);
}

/** The replay to follow: the latest window's every_window replay, else the latest replay. */
export function latestReplay(replays: Replay[]): Replay | null {
  let best: Replay | null = null;
  for (const r of replays) {
    if (!r.tags.includes("every_window")) continue;
    if (!best || r.window_id > best.window_id || (r.window_id === best.window_id && r.created_at > best.created_at)) best = r;
  }
  return best ?? replays[replays.length - 1] ?? null;
}

/** The run's best replay: the best_so_far one with the highest net profit (the later of equals),
 * else the latest (latestReplay). What the page shows of the pretrained agent. */
export function bestReplay(replays: Replay[]): Replay | null {
  let best: Replay | null = null;
  for (const r of replays) {
    if (!r.tags.includes("best_so_far")) continue;
    if (!best || r.net_profit > best.net_profit || (r.net_profit === best.net_profit &&
        (r.window_id > best.window_id || (r.window_id === best.window_id && r.created_at > best.created_at)))) best = r;
  }
  return best ?? latestReplay(replays);
}

/** `vocabulary`: /api/meta's action labels are in (the player shows them). */
export function ReplayPage({ params, vocabulary = true }: { params: URLSearchParams; vocabulary?: boolean }) {
  const [runs, setRuns] = useState<Run[] | null>(null);
  // the lists of one run (a list of another run is never shown, even while the new one loads)
  const [lists, setLists] = useState<{ runId: string; replays: Replay[]; windows: WindowRow[] } | null>(null);
  const [detail, setDetail] = useState<ReplayDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [refresh, setRefresh] = useState(0);
  // the replays of the pretrained run and of the run training beside it, while the page opens on the former
  const [beside, setBeside] = useState<{ key: string; pretrained: Replay[]; fresh: Replay[] } | null>(null);
  const pretrained = usePretrained();
  const tag = params.get("tag") ?? "all";
  const windowFilter = params.get("window");
  const following = !params.get("replay");

  useEffect(() => {
    api.runs().then(setRuns, setError);
  }, [refresh]);

  const pretrainedId = pretrained.runId;
  const fresh = runs && pretrainedId ? freshRunBeside(runs, pretrainedId) : null;
  const candidate = runs !== null && opensOnPretrained(runs, pretrainedId, params);
  const besideKey = `${pretrainedId} ${fresh?.run_id ?? ""}`;
  useEffect(() => {
    if (!candidate || !pretrainedId) return;
    Promise.all([api.replays(pretrainedId), fresh ? api.replays(fresh.run_id) : Promise.resolve([] as Replay[])])
      .then(([p, f]) => setBeside({ key: besideKey, pretrained: p, fresh: f }), setError);
  }, [candidate, besideKey, refresh]);
  const besideNow = beside && beside.key === besideKey ? beside : null;
  // the pretrained run opens the page once it has a replay (the evaluator plays it first)
  const showcase = candidate && besideNow !== null && besideNow.pretrained.length > 0;
  // until /api/meta and those lists are in, the page does not know which run to open on
  const deciding = !params.get("run") && (!pretrained.ready || (candidate && besideNow === null));
  const runId = params.get("run") ?? (deciding ? null : showcase ? pretrainedId : runs?.[0]?.run_id ?? null);
  const freshLatest = showcase && besideNow ? latestReplay(besideNow.fresh) : null;

  useEffect(() => {
    if (!runId) return;
    Promise.all([api.replays(runId), api.windows(runId)])
      .then(([replays, windows]) => setLists({ runId, replays, windows }), setError);
  }, [runId, refresh]);

  // live: a new replay (or window) of the run we show, or a new run while following
  useEffect(() => subscribeLive({
    replay: (m) => { if (m.run_id === runId || (following && !params.get("run"))) setRefresh((n) => n + 1); },
    window: (m) => {
      if (m.run_id !== runId) return;
      api.windows(m.run_id).then((windows) => setLists((l) => (l && l.runId === m.run_id ? { ...l, windows } : l)), () => {});
    },
  }), [runId, following]);

  const replays = lists && lists.runId === runId ? lists.replays : null;
  const windows = lists && lists.runId === runId ? lists.windows : [];

  // the replay to show: the one named in the URL (fetched at once, beside the lists), else the latest
  const wanted = params.get("replay");
  const follow = runId !== null && runId === pretrainedId ? bestReplay : latestReplay;
  const targetId = wanted ?? (replays ? follow(replays)?.replay_id ?? null : null);
  useEffect(() => {
    if (!runId || !targetId || detail?.replay.replay_id === targetId) return;
    // an answer for a replay picked before this one may come last: it must not replace this one
    let current = true;
    api.replay(runId, targetId).then((d) => { if (current) setDetail(d); }, (err) => {
      if (!current) return;
      if (err instanceof ApiError && err.status === 404) setDetail(null); // not in this run: say so below
      else setError(err);
    });
    return () => { current = false; };
  }, [runId, targetId]);
  const listed = replays?.find((r) => r.replay_id === targetId) ?? null;
  const chosen: Replay | null = listed ?? (detail?.replay.replay_id === targetId && detail.replay.run_id === runId ? detail.replay : null);

  if (error) return <Problem error={error} />;
  if (!runs) return <p class="loading">Loading runs…</p>;
  if (runs.length === 0) {
    return <Problem empty="No training runs yet. Start one with `prospector train --config demo`; its replays appear here as the evaluator records them." />;
  }

  const pick = (changes: Record<string, string | null>) =>
    navigate("replay", { run: params.get("run"), tag: params.get("tag"), window: params.get("window"), replay: params.get("replay"), ...changes });
  const filtered = (replays ?? []).filter((r) => tagMatches(tag, r.tags) && (windowFilter === null || String(r.window_id) === windowFilter));
  const windowIds = [...new Set((replays ?? []).map((r) => r.window_id))].sort((a, b) => a - b);
  const shown = detail && chosen && detail.replay.replay_id === chosen.replay_id ? detail : null;

  return (
    <div class="replay-page">
      <form class="pickers" aria-label="choose a replay" onSubmit={(e) => e.preventDefault()}>
        <label>Run
          <select data-testid="pick-run" value={runId ?? ""} onChange={(e) => pick({ run: e.currentTarget.value, replay: null, window: null })}>
            {runs.map((r) => <option key={r.run_id} value={r.run_id}>{runLabel(r, pretrainedId)}</option>)}
          </select>
        </label>
        <label>Tag
          <select data-testid="pick-tag" value={tag} onChange={(e) => pick({ tag: e.currentTarget.value === "all" ? null : e.currentTarget.value })}>
            {TAG_FILTERS.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        <label>Window
          <select data-testid="pick-window" value={windowFilter ?? ""} onChange={(e) => pick({ window: e.currentTarget.value || null })}>
            <option value="">all</option>
            {windowIds.map((w) => <option key={w} value={String(w)}>{w}</option>)}
          </select>
        </label>
        <label class="grow">Replay
          <select data-testid="pick-replay" value={chosen?.replay_id ?? ""} onChange={(e) => pick({ replay: e.currentTarget.value || null })}>
            {chosen && !filtered.includes(chosen) && <option value={chosen.replay_id}>{chosen.replay_id} (filtered out)</option>}
            {filtered.map((r) => (
              <option key={r.replay_id} value={r.replay_id}>
                w{r.window_id} · seed {r.seed} · episode profit {compact(r.net_profit)} · {r.length} frames{r.tags.length ? ` · ${r.tags.join(" ")}` : ""}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class={following ? "on" : ""} aria-pressed={following} data-testid="follow-latest"
                onClick={() => pick({ replay: null, tag: null, window: null })}
                title={showcase ? "the pretrained agent's best replay, while a fresh run trains"
                  : "show the newest every_window replay and switch when one arrives"}>
          {showcase ? `● ${PRETRAINED_LABEL}'s best` : following ? "● following latest" : "follow latest"}
        </button>
      </form>
      {showcase && (
        <p class="card showcase" data-testid="pretrained-showcase" role="status">
          <span class="badge pretrained">{PRETRAINED_LABEL}</span>
          {fresh ? (
            <span class="showcase-text">You are watching the pretrained agent's best replay while a fresh run, <code>{fresh.run_id}</code>, trains
              beside it{freshLatest ? ` (its latest replay is from window ${freshLatest.window_id}).`
                : ": its first replay comes when its first window has been evaluated."}</span>
          ) : <span class="showcase-text">You are watching the pretrained agent's best replay. No other run yet: <code>prospector train</code> starts one.</span>}
          {fresh && freshLatest && (
            <button type="button" data-testid="watch-fresh" onClick={() => navigate("replay", { run: fresh.run_id })}>
              Watch the fresh run's latest replay →
            </button>
          )}
        </p>
      )}
      {replays === null && <p class="loading">Loading replays…</p>}
      {replays !== null && replays.length === 0 && (
        <>
          <Problem empty={`Run ${runId} has no replays yet. The evaluator records one per training window; this page shows it as soon as it is announced.`} />
          <ProgressPanel runId={runId} />
        </>
      )}
      {replays !== null && replays.length > 0 && !chosen && wanted && !listed && <Problem empty="That replay is not in this run; pick another above." />}
      {chosen && (
        <div class="replay-head">
          <h1>Replay <code data-testid="replay-id">{chosen.replay_id}</code></h1>
          {chosen.run_id === pretrainedId && (
            <span class="badge pretrained" data-testid="pretrained-badge"
                  title={`the pretrained model${pretrained.model?.name ? ` ${pretrained.model.name}` : ""}, registered as a run of its own`}>
              {PRETRAINED_LABEL}</span>
          )}
          <span class="muted">window {chosen.window_id} · seed {chosen.seed} · this episode's net profit {compact(chosen.net_profit)} ·
            {chosen.survival ? " survived" : " lost the ship"} · {chosen.length} frames · {shortTime(chosen.created_at)}</span>
          {chosen.tags.map((t) => <span class="tag" key={t} title={t === "best_so_far" ? "the run's best episode net profit so far" : undefined}>{t}</span>)}
          {chosen.net_profit < 0 && chosen.window_id < EARLY_WINDOWS && chosen.run_id !== pretrainedId && (
            <p class="muted early-note" data-testid="early-loss">This episode lost money. That is expected of early windows:
              the policy is still close to random and learns to cash in over the first windows.</p>
          )}
          <a class="button" href={`/play?seed=${chosen.seed}&run=${chosen.run_id}&replay=${chosen.replay_id}`}
             onClick={(e) => { e.preventDefault(); navigate("play", { seed: chosen.seed, run: chosen.run_id, replay: chosen.replay_id }); }}>
            Play this belt yourself
          </a>
        </div>
      )}
      {chosen && !(shown && vocabulary) && <p class="loading">Loading replay…</p>}
      {shown && vocabulary && <ReplayPlayer key={shown.replay.replay_id} detail={shown} />}
      {chosen && <WindowCard windows={windows} windowId={chosen.window_id} />}
      {chosen && <ProgressPanel runId={showcase && fresh ? fresh.run_id : runId} compact />}
    </div>
  );
}
