"""Playing an agent to the end of an episode: the one loop every caller shares.

Two kinds of agent, both plain duck types:

- an **Agent** plays one game: `reset(seed)` when an episode starts, then
  `act(observation [260], mask [69]) -> int` every step (the bots);
- a **BatchAgent** plays many games at once: `start(n)` once,
  `act(observations [n, 260], masks [n, 69]) -> actions [n]` every step, and
  `episodes_ended(rows)` for the rows whose episode just ended (a recurrent
  policy zeroes their state there). The trainer's and evaluator's torch
  `Actor` is one; `SingleGame(batch_agent)` makes any of them an Agent.

    metrics = run_episode(GreedyMiner(), Engine(config), seed=7)
    per_seed = play_batch(actor, Batch(n, config), seeds)
    a = random_valid_action(rng, mask)          # uniform among the valid actions

`run_episode` takes an `on_step(engine, action, reward)` callback, which is
how the evaluator records a replay frame by frame without a loop of its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from . import spec


class Agent(Protocol):
    def reset(self, seed: int) -> None: ...

    def act(self, observation: np.ndarray, mask: np.ndarray) -> int: ...


class BatchAgent(Protocol):
    def start(self, n: int) -> None: ...

    def act(self, observations: np.ndarray, masks: np.ndarray) -> np.ndarray: ...

    def episodes_ended(self, rows: np.ndarray) -> None: ...


class SingleGame:
    """A BatchAgent seen as an Agent: one row, restarted at every reset."""

    def __init__(self, agent: BatchAgent):
        self.agent = agent

    def reset(self, seed: int) -> None:
        self.agent.start(1)

    def act(self, observation: np.ndarray, mask: np.ndarray) -> int:
        return int(self.agent.act(observation[None, :], mask[None, :])[0])


def valid_actions(mask: Sequence | np.ndarray, exclude: Iterable[int] = ()) -> list[int]:
    """The actions whose mask flag is set, minus `exclude`."""
    skip = set(exclude)
    return [a for a in range(spec.N_ACTIONS) if mask[a] and a not in skip]


def random_valid_action(rng: random.Random, mask: Sequence | np.ndarray, exclude: Iterable[int] = (),
                        fallback: int = spec.A_HOLD) -> int:
    """Uniform among the valid actions (minus `exclude`); `fallback` when none is left.
    `rng` is a random.Random, so a seeded run draws the same actions on every machine."""
    choices = valid_actions(mask, exclude)
    return rng.choice(choices) if choices else fallback


def random_valid_actions(rng: np.random.Generator, masks: np.ndarray, out: np.ndarray,
                         exclude_cash_out: bool = True) -> None:
    """The batched form: uniform among each row's valid actions of masks [n, 69], written
    into out [n]; HOLD for a row with none. CASH_OUT is left out by default (it ends the game)."""
    m = np.asarray(masks)[:, : spec.A_CASH_OUT if exclude_cash_out else spec.N_ACTIONS].astype(bool, copy=False)
    scores = rng.random(m.shape, dtype=np.float32)
    scores[~m] = -1.0
    a = scores.argmax(axis=1)
    a[~m.any(axis=1)] = spec.A_HOLD
    out[:] = a


def run_episode(agent: Agent, engine: Any, seed: int | None = None, *, max_steps: int | None = None,
                on_step: Callable[[Any, int, float], None] | None = None) -> dict:
    """Play one episode on `engine` (a prospector.engine.Engine) to its end, or for at most
    max_steps steps; reset to `seed` first unless it is None (the engine is then already
    reset). Returns the episode metrics."""
    if seed is not None:
        engine.reset(seed)
    agent.reset(engine.seed if seed is None else seed)
    steps = 0
    while not engine.done:
        if max_steps is not None and steps >= max_steps:
            break
        action = agent.act(engine.observation(), engine.action_mask())
        reward, _, _ = engine.step(action)
        steps += 1
        if on_step is not None:
            on_step(engine, action, reward)
    return engine.metrics()


def play_batch(agent: BatchAgent, batch: Any, seeds: Iterable[int], *, max_steps: int = 10_000_000) -> list[dict]:
    """The first episode of each seed, played side by side on `batch` (a prospector.engine.Batch
    of len(seeds) games); episode metrics in seed order. Games that finished hold still
    (HOLD) until the last one ends."""
    seeds = np.asarray(list(seeds), dtype=np.uint64)
    n = len(seeds)
    batch.reset(seeds)
    batch.read_log()
    agent.start(n)
    results: list[dict | None] = [None] * n
    finished = np.zeros(n, dtype=bool)
    for _ in range(max_steps):
        actions = agent.act(batch.observations, batch.action_masks)
        actions[finished] = spec.A_HOLD
        batch.step(actions)
        done = batch.terminals | batch.truncations
        if not done.any():
            continue
        # one log record per game that ended this step, in game order
        _, _, records = batch.read_log()
        for i, rec in zip(np.flatnonzero(done), records):
            if not finished[i]:
                results[i] = {name: float(rec[k]) for k, name in enumerate(spec.METRIC_NAMES)}
                finished[i] = True
        if finished.all():
            return results  # type: ignore[return-value]
        agent.episodes_ended(np.flatnonzero(done))
    raise RuntimeError(f"episodes did not end within {max_steps} steps")
