"""The curriculum schedule: which env rules are in force at a given env step.

A run's [env] table holds base keys (EnvConfig fields, plus `curriculum = 1..5`
for the switches) and an optional `schedule`: a list of
{from_env_steps = N, <env keys>} applied on top of the base from that env step
on. The trainer switches new episodes at window boundaries; the evaluator plays
the stage a window trained in. Both read it here.

    env_config_at(run_env_table, env_steps)  -> EnvConfig
"""

from __future__ import annotations

from typing import Any

from prospector import spec
from prospector.spec import EnvConfig


class ScheduleError(ValueError):
    """An env.schedule that is not a list of increasing {from_env_steps = N, ...} tables."""


def env_at(d: dict, env_steps: int | float) -> dict:
    """The [env] table in force at `env_steps`: the base keys, updated by every schedule entry
    whose from_env_steps has been reached (in order; its `curriculum` resets the switches)."""
    table = {k: v for k, v in d.items() if k != "schedule"}
    for entry in d.get("schedule", []):
        if entry["from_env_steps"] <= env_steps:
            changes = {k: v for k, v in entry.items() if k != "from_env_steps"}
            if "curriculum" in changes:  # a new stage: its switches, not the old explicit ones
                table = {k: v for k, v in table.items() if k not in spec.SWITCHES}
            table.update(changes)
    return table


def env_config_at(d: dict, env_steps: int | float) -> EnvConfig:
    """EnvConfig of the [env] table (schedule included) at `env_steps`."""
    return env_config_from(env_at(d, env_steps))


def check_schedule(schedule: Any) -> None:
    if not isinstance(schedule, list) or not all(isinstance(e, dict) for e in schedule):
        raise ScheduleError("env.schedule must be a list of tables {from_env_steps = N, <env keys>}")
    last = -1
    for e in schedule:
        start = e.get("from_env_steps")
        if isinstance(start, bool) or not isinstance(start, int) or start <= last:
            raise ScheduleError(f"env.schedule: from_env_steps must be integers in increasing order, got {start!r}")
        if "schedule" in e:
            raise ScheduleError("env.schedule entries cannot hold a schedule")
        last = start


def env_config_from(d: dict) -> EnvConfig:
    """EnvConfig from the [env] table: `curriculum` (1..5) sets the switches, explicit keys win.
    A `schedule` is ignored here: this is the base (see env_config_at)."""
    d = {k: v for k, v in d.items() if k != "schedule"}
    stage = d.pop("curriculum", None)
    base = EnvConfig.curriculum(stage).to_dict() if stage is not None else EnvConfig().to_dict()
    base.update(d)
    return EnvConfig.from_dict(base)
