"""Window metrics, aggregated in bulk from the engine's episode log.

The C batch sums SPEC section 7's episode metrics over finished episodes and
keeps a ring of each env's 8 most recent episode records. The trainer drains
that log once per PPO epoch (one C call: count, 19 sums, records [k, 19]),
so means are exact over every episode finished in the window and medians are
exact as long as no env finishes more than 8 episodes in one epoch
(bptt_horizon decisions); past that they are over each env's most recent 8.
Nothing here runs per env per step.
"""

from __future__ import annotations

import numpy as np

from prospector import spec

I = spec.METRIC_INDEX

# PuffeRL's loss names, reported under these keys in the row.
LOSS_KEYS = ("policy_loss", "value_loss", "entropy", "old_approx_kl", "approx_kl", "clipfrac",
             "importance", "explained_variance")

ROW_KEYS = (
    "run_id", "window_id", "env_steps_total", "episodes_in_window",
    "return_mean", "return_median", "net_profit_mean", "net_profit_median", "profit_per_tick_mean",
    "survival_rate", "destroyed_rate", "stranded_rate", "overheat_ticks_mean", "pirate_encounters_mean",
    "value_lost_to_pirates_mean", "fuel_used_mean", "tool_wear_mean", "scan_count_mean", "mining_ticks_mean",
    "invalid_action_rate", "steps_per_second", "wall_time", "learning_rate", *LOSS_KEYS,
)

# row key -> metric whose per-episode mean it is
MEANS = {
    "return_mean": "episode_return", "net_profit_mean": "net_profit", "profit_per_tick_mean": "profit_per_tick",
    "survival_rate": "survival", "destroyed_rate": "destroyed", "stranded_rate": "stranded",
    "overheat_ticks_mean": "overheat_ticks", "pirate_encounters_mean": "pirate_encounters",
    "value_lost_to_pirates_mean": "value_lost_to_pirates", "fuel_used_mean": "fuel_used",
    "tool_wear_mean": "tool_wear", "scan_count_mean": "scan_count", "mining_ticks_mean": "mining_ticks",
}


class EpisodeLog:
    """Sums, count and recent records of the episodes finished since the last take()."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.count = 0
        self.sums = np.zeros(spec.N_METRICS, dtype=np.float64)
        self.records: list[np.ndarray] = []

    def drain(self, batches) -> tuple[int, np.ndarray]:
        """Reads (and clears) the C logs; returns this drain's (count, sums)."""
        count, sums = 0, np.zeros(spec.N_METRICS, dtype=np.float64)
        for b in batches:
            n, s, rec = b.read_log()
            if n:
                count += n
                sums += np.fromiter((s[name] for name in spec.METRIC_NAMES), np.float64, spec.N_METRICS)
                self.records.append(rec)
        self.count += count
        self.sums += sums
        return count, sums

    def summary(self) -> dict[str, float | int | None]:
        """The episode part of a window row; None where no episode finished."""
        out: dict[str, float | int | None] = {"episodes_in_window": int(self.count)}
        if self.count == 0:
            out.update({k: None for k in MEANS})
            out.update(return_median=None, net_profit_median=None, invalid_action_rate=None)
            return out
        for key, metric in MEANS.items():
            out[key] = float(self.sums[I[metric]] / self.count)
        records = np.concatenate(self.records) if self.records else np.zeros((0, spec.N_METRICS))
        if len(records):
            out["return_median"] = float(np.median(records[:, I["episode_return"]]))
            out["net_profit_median"] = float(np.median(records[:, I["net_profit"]]))
        else:
            out["return_median"] = out["net_profit_median"] = None
        steps = self.sums[I["episode_steps"]]
        out["invalid_action_rate"] = float(self.sums[I["invalid_actions"]] / steps) if steps > 0 else None
        return out


def window_row(run_id: str, window_id: int, env_steps_total: int, log: EpisodeLog, steps_in_window: int,
               wall_time: float, learning_rate: float, losses: dict) -> dict:
    """The window metrics row, with exactly ROW_KEYS in that order."""
    row = {"run_id": run_id, "window_id": int(window_id), "env_steps_total": int(env_steps_total)}
    row.update(log.summary())
    row["steps_per_second"] = float(steps_in_window / wall_time) if wall_time > 0 else None
    row["wall_time"] = float(wall_time)
    row["learning_rate"] = float(learning_rate)
    for k in LOSS_KEYS:
        v = losses.get(k)
        row[k] = None if v is None or not np.isfinite(v) else float(v)
    return {k: row[k] for k in ROW_KEYS}
