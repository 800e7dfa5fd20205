// `/play`: a person pilots the ship. The server holds the session and decides what is
// valid; the page greys out what the mask forbids, says why a forced invalid action
// failed, repeats a held key at a chosen pace, and at the end compares the episode
// with the agent's replay on the same seed when there is one.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { Autopilot, type Suggestion } from "../autopilot";
import { ActionLine, Cargo, CommodityLegend, EventLog, Gauges, Market, Purse } from "../components/Hud";
import { Problem } from "../components/Problem";
import { SectorCanvas } from "../components/SectorCanvas";
import { Timeline } from "../components/Timeline";
import { decodeState, type Frame, graphOf, Series } from "../decode";
import { actionName, compact, credits, groupLog, type LogEntry, parseSeed, percent, signed, whole } from "../format";
import { A, actionLabel, COMMODITIES, COMMODITY_LABEL, invalidReason, KEY_OF_ACTION, NOTABLE_MASK, PLAY_KEYS } from "../game";
import { navigate } from "../router";
import type { Meta, RawEvents, RawState, Replay, Session } from "../types";

export const PACES = [2, 5, 10, 20] as const;
const REPEAT_DELAY_MS = 400; // a held key starts repeating after this

/** A probability as the palette shows it: "64%", "3.5%", "<1%". */
export function percentOf(p: number): string {
  if (!(p >= 0.01)) return "<1%";
  return p < 0.1 ? `${(p * 100).toFixed(1)}%` : `${Math.round(p * 100)}%`;
}

/** The key help, in key order, from the same keys and labels as the buttons. */
const KEY_HELP: [string, number][] = Object.entries(KEY_OF_ACTION).map(([a, k]) => [k, Number(a)] as [string, number])
  .sort((x, y) => x[1] - y[1]); // steps per second while a key is held

const GROUP_TITLES: Record<string, string> = {
  navigation: "Navigation", sensing: "Sensing", mining: "Mining", maintenance: "Maintenance", cargo: "Cargo",
  station: "Station", episode: "Episode",
};

const ENV_KEYS = ["time_max", "reward_mode", "pirates", "hazards", "scan_noise", "fractures", "price_impact", "shocks"];

/** The fields of a replay's env config that a new session accepts. */
export function sessionConfig(env: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!env) return undefined;
  return Object.fromEntries(Object.entries(env).filter(([k]) => ENV_KEYS.includes(k)));
}

const SUMMARY_ROWS: [string, string, (v: number) => string][] = [
  ["net_profit", "Net profit", (v) => signed(v)],
  ["credits", "Final credits", credits],
  ["survival", "Survived", (v) => (v >= 1 ? "yes" : "no")],
  ["episode_length", "Ticks", whole],
  ["episode_steps", "Decisions", whole],
  ["profit_per_tick", "Profit / tick", compact],
  ["mining_ticks", "Mining ticks", whole],
  ["scan_count", "Scans", whole],
  ["overheat_ticks", "Overheat ticks", whole],
  ["pirate_encounters", "Pirate encounters", whole],
  ["value_lost_to_pirates", "Lost to pirates", credits],
  ["invalid_actions", "Invalid actions", whole],
];

interface Agent { replay: Replay; metrics: Record<string, number> | null }

interface Episode {
  session: Session;
  state: RawState;
  mask: boolean[];
  series: Series;
  steps: number;
  last: { t: number; name: string; reward: number; dt: number; events: RawEvents | null };
  /** the notable steps, newest first (the event log groups alike ones in a row) */
  log: LogEntry[];
  invalid: string | null;
  ended: Record<string, number> | null;
}

function freshEpisode(session: Session): Episode {
  const state = session.state!;
  return {
    session, state, mask: session.action_mask, series: new Series(state.time_max + 1), steps: 0,
    last: { t: state.t, name: "start", reward: 0, dt: 0, events: null }, log: [], invalid: null, ended: null,
  };
}

/** The agent's replay on this seed: the one named in the URL, else one of the newest run's. */
async function findAgentReplay(seed: number, runId: string | null, replayId: string | null): Promise<Agent | null> {
  let replay: Replay | undefined;
  if (runId && replayId) {
    const detail = await api.replay(runId, replayId);
    return { replay: detail.replay, metrics: detail.header.summary?.metrics ?? null };
  }
  const runs = await api.runs();
  if (runs.length === 0) return null;
  replay = (await api.replays(runs[0].run_id)).filter((r) => r.seed === seed).pop();
  if (!replay) return null;
  const detail = await api.replay(replay.run_id, replay.replay_id);
  return { replay, metrics: detail.header.summary?.metrics ?? null };
}

/** `vocabulary`: /api/meta's action labels are in (the palette and the key help show them). */
export function PlayPage({ params, vocabulary = true }: { params: URLSearchParams; vocabulary?: boolean }) {
  const [meta, setMeta] = useState<Meta | null>(null);
  const [episode, setEpisode] = useState<Episode | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [agent, setAgent] = useState<Agent | null>(null);
  const [pace, setPace] = useState<number>(5);
  const [seedText, setSeedText] = useState(params.get("seed") ?? "");
  const [seedProblem, setSeedProblem] = useState<string | null>(null);
  const busy = useRef(false);
  const live = useRef<Episode | null>(null);
  live.current = episode;
  const holding = useRef<{ key: string; timer: number } | null>(null);
  // the pretrained agent: its suggestion for the state shown (by step), whether the palette shows
  // them, why it cannot (no model served), and the autopilot that lets it fly
  const [suggestion, setSuggestion] = useState<{ state: RawState; s: Suggestion } | null>(null);
  const [hints, setHints] = useState(true);
  const [agentProblem, setAgentProblem] = useState<string | null>(null);
  const [flying, setFlying] = useState(false);
  const paceRef = useRef(pace);
  paceRef.current = pace;
  const tookBackAt = useRef(-1e9);
  const pilot = useRef<Autopilot | null>(null);

  // which start() is the latest: a start overtaken by a newer one (two quick "New game"s) closes
  // the session it made and shows nothing, so one game is shown and no session is left open
  const starts = useRef(0);
  const start = async (seed: number | null) => {
    const mine = ++starts.current;
    const latest = () => mine === starts.current;
    pilot.current?.stop();
    setError(null);
    setAgent(null);
    try {
      const runId = params.get("run");
      const replayId = params.get("replay");
      const config = runId && replayId ? sessionConfig((await api.replay(runId, replayId)).header.env_config) : undefined;
      if (!latest()) return;
      const session = await api.createSession(seed, config);
      if (!latest()) {
        api.closeSession(session.session_id);
        return;
      }
      const old = live.current?.session.session_id;
      if (old) api.closeSession(old);
      setEpisode(freshEpisode(session));
      findAgentReplay(session.seed, runId, replayId).then((a) => { if (latest()) setAgent(a); },
                                                          () => { if (latest()) setAgent(null); });
    } catch (err) {
      if (latest()) setError(err);
    }
  };

  /** The same belt again, in the same session; a session that expired meanwhile is replaced. */
  const reset = async () => {
    const ep = live.current;
    if (!ep) return;
    stopHolding();
    pilot.current?.stop();
    try {
      setEpisode(freshEpisode(await api.reset(ep.session.session_id, ep.session.seed)));
      setError(null);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 410)) await start(ep.session.seed);
      else setError(err);
    }
  };

  useEffect(() => {
    api.meta().then(setMeta, setError);
    const seed = parseSeed(params.get("seed") ?? "");
    void start(seed === "invalid" ? null : seed);
    const close = () => { if (live.current) api.closeSession(live.current.session.session_id); };
    window.addEventListener("pagehide", close);
    return () => { pilot.current?.stop(); close(); window.removeEventListener("pagehide", close); };
  }, []);

  /** Take `action`; true when the step went through. */
  const send = async (action: number): Promise<boolean> => {
    const ep = live.current;
    if (!ep || busy.current || ep.ended) return false;
    busy.current = true;
    try {
      const result = await api.step(ep.session.session_id, action);
      const state = result.state!;
      const events = result.info?.events ?? state.events;
      const invalid = events.names.includes("invalid");
      const frame: Frame = { index: ep.steps, t: state.t, action, actionName: events.action_name ?? "", reward: result.reward,
                             dt: events.dt ?? 0, events, view: decodeState(state) };
      ep.series.set(ep.steps, frame);
      const log = events.flags & NOTABLE_MASK ? [{ key: ep.steps, tick: state.t, events }, ...ep.log].slice(0, 400) : ep.log;
      const why = invalid ? invalidReason(action, ep.state) ?? "the server found it invalid in this state" : null;
      const next: Episode = {
        ...ep, state, mask: result.action_mask, steps: ep.steps + 1,
        last: { t: state.t, name: events.action_name ?? actionLabel(action), reward: result.reward, dt: events.dt ?? 0, events },
        log, invalid: why ? `${actionLabel(action, ep.state)} was invalid: ${why}. It ran as Hold / drift, with the invalid-action penalty.` : null,
        ended: result.terminated || result.truncated ? result.info?.episode ?? state.metrics : null,
      };
      live.current = next;
      setEpisode(next);
      if (next.ended) stopHolding();
      return true;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 410)) setError(new ApiError(err.status, `${err.message} Start a new game.`));
      else setError(err);
      stopHolding();
      return false;
    } finally {
      busy.current = false;
    }
  };

  /** The agent's suggestion for the session's current state; a 503 (no model served) turns the agent's controls off. */
  const askAgent = async (): Promise<Suggestion> => {
    const ep = live.current;
    if (!ep) throw new Error("no session");
    try {
      const s = await api.suggest(ep.session.session_id);
      if (live.current?.state === ep.state) setSuggestion({ state: ep.state, s });
      return s;
    } catch (err) {
      if (err instanceof ApiError && err.status === 503) setAgentProblem(err.message);
      throw err;
    }
  };
  if (!pilot.current) {
    pilot.current = new Autopilot({
      suggest: askAgent,
      step: async (action) => {
        if (!(await send(action))) throw new Error("the step did not go through");
        return !live.current?.ended;
      },
      pace: () => paceRef.current,
      onChange: () => setFlying(pilot.current!.flying),
    });
  }

  // the agent's suggestion for every new state, while the palette shows them (the autopilot asks its own)
  const model = meta?.pretrained ?? null;
  useEffect(() => {
    const ep = live.current;
    if (!ep || !hints || !model || flying || ep.ended || agentProblem) return;
    askAgent().catch(() => {});
  }, [episode?.state, hints, model?.name, flying, agentProblem]);

  // while the agent flies, any key or click (anywhere) takes the controls back, and does nothing else
  useEffect(() => {
    if (!flying) return;
    const takeBack = (e: Event) => {
      pilot.current?.stop();
      tookBackAt.current = performance.now();
      if (e.type === "keydown") {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
    };
    window.addEventListener("keydown", takeBack, { capture: true });
    window.addEventListener("pointerdown", takeBack, { capture: true });
    return () => {
      window.removeEventListener("keydown", takeBack, { capture: true });
      window.removeEventListener("pointerdown", takeBack, { capture: true });
    };
  }, [flying]);

  const stopHolding = () => {
    if (holding.current) {
      window.clearTimeout(holding.current.timer);
      window.clearInterval(holding.current.timer);
    }
    holding.current = null;
  };
  // one step now; repeats only after a short delay (as a keyboard's own repeat does), so a
  // tap is one step even when the key's release arrives late on a busy machine
  const startHolding = (key: string, action: number) => {
    stopHolding();
    void send(action);
    const held = { key, timer: 0 };
    held.timer = window.setTimeout(() => {
      if (holding.current === held) held.timer = window.setInterval(() => void send(action), 1000 / pace);
    }, Math.max(REPEAT_DELAY_MS, 1000 / pace));
    holding.current = held;
  };

  useEffect(() => {
    const typing = (t: EventTarget | null) => ["INPUT", "SELECT", "TEXTAREA"].includes((t as HTMLElement)?.tagName ?? "");
    const down = (e: KeyboardEvent) => {
      if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      const key = e.key.toLowerCase();
      const action = PLAY_KEYS[key];
      if (action === undefined) return;
      e.preventDefault();
      if (e.repeat || holding.current?.key === key) return;
      startHolding(key, action);
    };
    const up = (e: KeyboardEvent) => { if (holding.current?.key === e.key.toLowerCase() || e.key === "Shift") stopHolding(); };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    window.addEventListener("blur", stopHolding);
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
      window.removeEventListener("blur", stopHolding);
      stopHolding();
    };
  }, [pace]);

  const graph = useMemo(() => (episode ? graphOf(episode.state.nodes) : null), [episode?.session.session_id, episode?.session.seed]);
  const view = useMemo(() => (episode ? decodeState(episode.state) : null), [episode?.state]);

  const newGame = (e: Event) => {
    e.preventDefault();
    const seed = parseSeed(seedText);
    if (seed === "invalid") {
      setSeedProblem("A seed is a whole number (0 to 9007199254740991), or empty for a random belt.");
      return;
    }
    setSeedProblem(null);
    if (params.get("replay") && seed !== Number(params.get("seed"))) navigate("play", { seed }, true);
    void start(seed);
  };

  const startForm = (
    <form class="pickers" onSubmit={newGame} aria-label="new game">
      <label>Seed <input value={seedText} onInput={(e) => setSeedText(e.currentTarget.value)} inputMode="numeric"
                         placeholder="random" data-testid="play-seed" aria-describedby="seed-help" /></label>
      <button type="submit" data-testid="play-start">New game</button>
      <label>Hold pace <select value={String(pace)} onChange={(e) => setPace(Number(e.currentTarget.value))} aria-label="steps per second while a key is held">
        {PACES.map((p) => <option key={p} value={String(p)}>{p} steps/s</option>)}
      </select></label>
      <span id="seed-help" class="muted">Type the seed of an agent's replay to fly the same belt.</span>
      {seedProblem && <span class="neg" role="alert">{seedProblem}</span>}
    </form>
  );

  if (error && !episode) return <div class="play-page">{startForm}<Problem error={error} /></div>;
  if (!episode || !graph || !view || !vocabulary) return <div class="play-page">{startForm}<p class="loading">Starting a session…</p></div>;

  const { state, mask, series, steps, last } = episode;
  const agentReason = meta === null ? "loading" : meta.pretrained === undefined ? "this API serves no pretrained agent"
    : meta.pretrained === null ? "no pretrained model is served here" : agentProblem;
  const history = (k: number) => series.prices[k].subarray(Math.max(0, steps - 120), steps);
  const groups = meta?.action_groups ?? {};

  const reasonOf = (action: number) => (mask[action] ? null : invalidReason(action, state) ?? "the mask forbids it now");
  // a reason that every invalid action of a group shares ("only at the station") is said once, by the group
  const sharedReason = (actions: number[]): string | null => {
    const reasons = actions.map(reasonOf).filter((r): r is string => r !== null)
      .map((r) => r.replace(/^[^:]*: /, ""));
    return reasons.length > 2 && reasons.every((r) => r === reasons[0]) ? reasons[0] : null;
  };
  let groupReason: string | null = null;
  // the agent's suggestion, when it is for the state shown: its top actions' probabilities on their buttons
  const advice = !agentReason && (hints || flying) && suggestion && suggestion.state === state ? suggestion.s : null;
  const odds = new Map(advice?.top ?? []);
  const button = (action: number, text?: string) => {
    const valid = !!mask[action];
    const key = KEY_OF_ACTION[action];
    const why = reasonOf(action);
    const p = odds.get(action);
    return (
      <button type="button" key={action} class={`action ${valid ? "" : "invalid"}${advice?.action === action ? " suggested" : ""}`} data-action={action}
              data-testid={`action-${action}`} aria-disabled={!valid || undefined}
              aria-describedby={why ? `why-${action}` : undefined}
              title={`${actionLabel(action)}${key ? ` (key ${key})` : ""}${why ? ` — invalid now: ${why}` : ""}`}
              onPointerDown={(e) => { if (e.button === 0) startHolding(`pointer${action}`, action); }}
              onPointerUp={stopHolding} onPointerLeave={stopHolding}
              onKeyDown={(e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); e.stopPropagation(); if (!e.repeat) void send(action); } }}>
        {text ?? actionLabel(action, state)}{key ? <kbd>{key}</kbd> : null}
        {p !== undefined && <span class="hint" data-testid={`hint-${action}`} title={`the agent's probability of ${actionLabel(action)}`}>{percentOf(p)}</span>}
        {why && !groupReason && text === undefined && <small class="why" id={`why-${action}`} data-testid={`why-${action}`}>{why}</small>}
      </button>
    );
  };

  const palette = (group: string, actions: number[]) => {
    if (group === "mining") {
      const selects = state.asteroids.map((a) => button(A.SELECT0 + a.slot));
      return [...(selects.length ? selects : [<span class="muted" key="none">no asteroids here</span>]),
              ...actions.filter((a) => a >= A.MINE0).map((a) => button(a))];
    }
    if (group === "station") {
      const sells = COMMODITIES.map((c, k) => (
        <span class="sell-row" key={c}>{COMMODITY_LABEL[c]}: {[0, 1, 2].map((b) => button(A.SELL0 + 3 * k + b, ["25%", "50%", "100%"][b]))}</span>
      ));
      return [...actions.filter((a) => a < A.SELL0 || a >= A.BUY_FUEL0).map((a) => button(a)), ...sells];
    }
    return actions.map((a) => button(a));
  };

  return (
    <div class="play-page">
      {startForm}
      {error && <Problem error={error} />}
      <div class="replay-head">
        <h1>Pilot <span class="muted">seed {episode.session.seed}</span></h1>
        {agent && <span class="muted">agent replay on this seed: <a href={`/?run=${agent.replay.run_id}&replay=${agent.replay.replay_id}`}
          onClick={(e) => { e.preventDefault(); navigate("replay", { run: agent.replay.run_id, replay: agent.replay.replay_id }); }}>{agent.replay.replay_id}</a></span>}
        <button type="button" onClick={() => void reset()} data-testid="play-reset" title="a new episode on the same seed, in the same session">
          Reset (same seed)</button>
      </div>
      {episode.invalid && <p class="invalid-note" role="alert" data-testid="play-invalid">{episode.invalid}</p>}
      {episode.ended && (
        <section class="card summary" data-testid="play-summary" aria-label="episode summary">
          <h2>Episode over: {state.terminated ? (episode.ended.destroyed ? "ship destroyed" : episode.ended.stranded ? "stranded" : "cashed out") : "time is up"}</h2>
          <table>
            <thead><tr><th></th><th>You</th>{agent?.metrics && <th>Agent ({agent.replay.replay_id})</th>}</tr></thead>
            <tbody>{SUMMARY_ROWS.map(([key, text, fmt]) => (
              <tr key={key}><td>{text}</td><td class="num">{fmt(episode.ended![key] ?? NaN)}</td>
                {agent?.metrics && <td class="num">{fmt(agent.metrics[key] ?? NaN)}</td>}</tr>
            ))}</tbody>
          </table>
          {!agent && <p class="muted">No agent replay was recorded on seed {episode.session.seed} in the newest run.</p>}
        </section>
      )}
      <div class="stage">
        <SectorCanvas graph={graph} view={view} frameKey={steps} events={last.events}
                      label={`sector view at tick ${state.t}: node ${state.current_node}`} />
        <aside class="hud" aria-label="ship and market">
          <ActionLine info={{ tick: state.t, name: last.name, reward: last.reward, dt: last.dt,
                              to: last.events?.names.includes("travel") ? last.events.travel_to : undefined }} tickTestId="play-tick" />
          <Gauges view={view} />
          <Purse view={view} testId="play-credits" />
          <Cargo view={view} />
          <CommodityLegend />
          <Market view={view} history={history} />
          <EventLog lines={groupLog(episode.log, 12)} />
        </aside>
      </div>
      <Timeline series={series} count={Math.max(1, steps)} position={Math.max(0, steps - 1)} version={steps} />
      <section class="agent" aria-label="the pretrained agent" data-testid="agent-panel">
        {agentReason ? (
          agentReason !== "loading" && <p class="muted" data-testid="agent-off">The agent's suggestions are off: {agentReason}.</p>
        ) : (
          <>
            <label title="the agent's likeliest actions and their probabilities on the buttons below">
              <input type="checkbox" checked={hints} onChange={(e) => setHints(e.currentTarget.checked)} data-testid="agent-hints" />
              {" "}Show the agent's suggestions <span class="muted">({model?.name})</span></label>
            <button type="button" class={flying ? "on" : ""} aria-pressed={flying} data-testid="agent-fly" disabled={!!episode.ended}
                    onClick={() => { if (!flying && performance.now() - tookBackAt.current > 400) pilot.current!.start(); }}
                    title="the agent steps with its suggestion at the hold pace; any key or click takes the controls back">
              {flying ? "✈ the agent is flying: any key or click takes over" : "✈ Let the agent fly"}</button>
            {advice && (
              <span class="advice" data-testid="agent-suggests">{flying ? "flying" : "suggests"}{" "}
                <strong>{actionLabel(advice.action, state)}</strong> {percentOf(odds.get(advice.action) ?? 0)}
                <span class="muted"> · value {compact(advice.value)} · entropy {compact(advice.entropy)}</span></span>
            )}
            {!flying && pilot.current?.problem && <span class="neg" role="alert" data-testid="agent-landed">The agent stopped: {pilot.current.problem}</span>}
          </>
        )}
      </section>
      <section class="palette" aria-label="actions">
        {Object.entries(groups).map(([group, actions]) => (
          <fieldset key={group} class={`group group-${group}`}>
            <legend>{GROUP_TITLES[group] ?? group}</legend>
            {(groupReason = sharedReason(actions)) && <small class="why group-why" data-testid={`why-${group}`}>invalid now: {groupReason}</small>}
            {palette(group, actions)}
          </fieldset>
        ))}
      </section>
      <p class="muted help" data-testid="key-help">Keys: {KEY_HELP.map(([k, a]) => `${k} ${actionLabel(a)}`).join(" · ")}.
        Hold a key to repeat it at the pace above; while the agent flies, any key or click takes the controls back. Greyed actions are invalid now (the reason is under each); forcing one costs a penalty.
        Last action: {actionName(last.name)}, {percent(state.t / Math.max(1, state.time_max))} of the time used.</p>
    </div>
  );
}
