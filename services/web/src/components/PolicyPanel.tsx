// What the policy saw when it chose: its likeliest actions as bars (the chosen one
// marked), its value estimate and the entropy of its choice. Only evaluator replays
// carry this (replay schema 2); for a bot's or a person's replay nothing is drawn.

import { compact } from "../format";
import { actionLabel } from "../game";
import type { PolicyInfo } from "../types";

export function PolicyPanel({ policy, chosen }: { policy: PolicyInfo | null | undefined; chosen: number }) {
  if (!policy) return null;
  const listed = policy.top.some(([a]) => a === chosen);
  return (
    <section class="policy-panel" aria-label="why the agent acted" data-testid="policy-panel">
      <div class="row-head"><span>Policy's choice</span>
        <span class="muted" data-testid="policy-value">value {compact(policy.value)} · entropy {compact(policy.entropy)}</span></div>
      {policy.top.map(([action, p]) => (
        <div key={action} class={`bar-row${action === chosen ? " chosen" : ""}`} data-testid="policy-bar"
             data-action={action} aria-current={action === chosen || undefined}>
          <span>{action === chosen ? "▶ " : ""}{actionLabel(action)}</span>
          <div class="bar" role="img" aria-label={`${Math.round(p * 100)} percent`}><div style={{ width: `${Math.max(1, p * 100)}%` }} /></div>
          <span class="num">{(p * 100).toFixed(p < 0.1 ? 1 : 0)}%</span>
        </div>
      ))}
      {!listed && chosen >= 0 && <div class="muted">chosen: {actionLabel(chosen)} (sampled, outside the top {policy.top.length})</div>}
    </section>
  );
}
