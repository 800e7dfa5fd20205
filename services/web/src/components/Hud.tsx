// The HUD: ship gauges with their thresholds, credits and stores, cargo by commodity,
// market prices with arrows and sparklines, the current action, and the event log.

import type { View } from "../decode";
import { actionName, credits, type LogLine, priceArrow, signed } from "../format";
import { CARGO_MAX, COMMODITIES, COMMODITY_COLOR, COMMODITY_LABEL, GAUGES, gaugeWarn } from "../game";
import { Sparkline } from "./Sparkline";

export function Gauges({ view }: { view: View }) {
  return (
    <div class="gauges">
      {GAUGES.map((g) => {
        const value = view.ship[g.key];
        const warn = gaugeWarn(g, value);
        return (
          <div class={`gauge ${warn ? "warn" : ""}`} key={g.key} title={`${g.label}: threshold ${g.threshold} (${g.why})`}>
            <span class="gauge-label">{g.label}</span>
            <div class="bar" role="meter" aria-label={g.label} aria-valuemin={0} aria-valuemax={g.max} aria-valuenow={Math.round(value)}>
              <div class={`fill gauge-${g.key}`} style={{ width: `${Math.max(0, Math.min(100, (value / g.max) * 100))}%` }} />
              <div class="threshold" style={{ left: `${(g.threshold / g.max) * 100}%` }} />
            </div>
            <span class="gauge-value" data-testid={`gauge-${g.key}`}>{Math.round(value)}</span>
          </div>
        );
      })}
    </div>
  );
}

export function Purse({ view, testId }: { view: View; testId?: string }) {
  const s = view.ship;
  return (
    <div class="purse">
      <div class="credits"><span class="muted">Credits</span> <strong data-testid={testId}>{Math.round(s.credits)}</strong></div>
      <div class="stores muted">
        kits {s.repair_kits} · stabilizers {s.stabilizers} · decoys {s.decoys}
        {s.escape_ticks > 0 ? ` · escape ${s.escape_ticks}t` : ""}
      </div>
    </div>
  );
}

/** What the commodity colors mean (cargo bar, asteroid pies, price lines). */
export function CommodityLegend() {
  return (
    <ul class="legend" aria-label="commodity colors" data-testid="commodity-legend">
      {COMMODITIES.map((c) => <li key={c}><i style={{ background: COMMODITY_COLOR[c] }} />{COMMODITY_LABEL[c]}</li>)}
    </ul>
  );
}

export function Cargo({ view }: { view: View }) {
  const total = COMMODITIES.reduce((sum, c) => sum + (view.cargo[c] ?? 0), 0);
  return (
    <div class="cargo">
      <div class="row-head"><span>Cargo</span><span class="muted">{total.toFixed(1)} / {CARGO_MAX} · worth {credits(view.cargo_value)} cr</span></div>
      <div class="cargo-bar" role="img" aria-label={`cargo ${total.toFixed(0)} of ${CARGO_MAX}`}>
        {COMMODITIES.map((c) => (
          <div key={c} style={{ width: `${((view.cargo[c] ?? 0) / CARGO_MAX) * 100}%`, background: COMMODITY_COLOR[c] }} />
        ))}
      </div>
      <ul class="cargo-list">
        {COMMODITIES.filter((c) => (view.cargo[c] ?? 0) > 0.05).map((c) => (
          <li key={c}><i style={{ background: COMMODITY_COLOR[c] }} />{COMMODITY_LABEL[c]} {view.cargo[c].toFixed(1)}
            {(view.refined[c] ?? 0) > 0.05 ? <span class="muted"> ({view.refined[c].toFixed(1)} refined)</span> : null}</li>
        ))}
        {total <= 0.05 && <li class="muted">empty hold</li>}
      </ul>
    </div>
  );
}

/** `history(k)` gives commodity k's recent prices, oldest first. */
export function Market({ view, history }: { view: View; history: (k: number) => ArrayLike<number> }) {
  return (
    <table class="market">
      <caption>Market</caption>
      <tbody>
        {COMMODITIES.map((c, k) => {
          const m = view.market[c];
          const arrow = m ? priceArrow(m.price, m.prev_price) : "•";
          return (
            <tr key={c}>
              <td><i class="dot" style={{ background: COMMODITY_COLOR[c] }} />{COMMODITY_LABEL[c]}</td>
              <td class="num">{m ? m.price.toFixed(m.price < 100 ? 2 : 1) : "–"}</td>
              <td class={`arrow ${arrow === "▲" ? "up" : arrow === "▼" ? "down" : ""}`} aria-label={arrow === "▲" ? "up" : arrow === "▼" ? "down" : "flat"}>{arrow}</td>
              <td><Sparkline values={history(k)} color={COMMODITY_COLOR[c]} label={`${COMMODITY_LABEL[c]} price trend`} /></td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export interface ActionInfo {
  tick: number;
  name: string;
  reward: number;
  dt: number;
  /** where a travel went (node id) */
  to?: number;
}

export function ActionLine({ info, tickTestId }: { info: ActionInfo; tickTestId: string }) {
  return (
    <div class="action-line">
      <span>tick <strong data-testid={tickTestId}>{info.tick}</strong></span>
      <span class="action-name" data-testid="action-name">{actionName(info.name)}{info.to !== undefined ? ` → node ${info.to}` : ""}</span>
      <span>reward <strong class={info.reward > 0 ? "pos" : info.reward < 0 ? "neg" : ""}>{signed(info.reward, 3)}</strong></span>
      <span>dt {info.dt}</span>
    </div>
  );
}

export type { LogLine };

export function EventLog({ lines }: { lines: LogLine[] }) {
  return (
    <div class="event-log">
      <div class="row-head"><span>Events</span></div>
      <ol aria-live="off">
        {lines.length === 0 && <li class="muted">nothing notable yet</li>}
        {lines.map((l) => (
          <li key={l.key} data-count={l.count ?? 1}>
            <span class="muted">{l.count ? `t${l.firstTick}–${l.tick}` : `t${l.tick}`}</span> {l.text}
          </li>
        ))}
      </ol>
    </div>
  );
}
