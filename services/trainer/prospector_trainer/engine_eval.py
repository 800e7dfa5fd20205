"""Playing a trained policy on fixed seeds, in bulk, on the C batch."""

from __future__ import annotations

import numpy as np

from prospector import spec
from prospector.engine import Batch

from .policy import Actor


def play_batch(policy, action_masking: bool, seeds, env_config=None, greedy: bool = True, threads: int = 1,
               max_steps: int = 10_000_000) -> list[dict]:
    """Episode metrics of the first episode of each seed (in seed order)."""
    seeds = np.asarray(list(seeds), dtype=np.uint64)
    n = len(seeds)
    batch = Batch(n, env_config, threads)
    batch.reset(seeds)
    batch.read_log()
    actor = Actor(policy, action_masking, greedy=greedy)
    actor.start(n)
    results: list[dict | None] = [None] * n
    finished = np.zeros(n, dtype=bool)
    try:
        for _ in range(max_steps):
            actions = actor.act(batch.observations, batch.action_masks)
            actions[finished] = spec.A_HOLD  # keep finished games long and quiet
            batch.step(actions)
            done = batch.terminals | batch.truncations
            if done.any():
                # one record per env that ended an episode this step, in env order
                _, _, records = batch.read_log()
                for i, rec in zip(np.flatnonzero(done), records):
                    if not finished[i]:
                        results[i] = {name: float(rec[k]) for k, name in enumerate(spec.METRIC_NAMES)}
                        finished[i] = True
                if finished.all():
                    break
                if actor.recurrent:
                    actor.h[torch_index(done)] = 0
                    actor.c[torch_index(done)] = 0
        else:
            raise RuntimeError(f"episodes did not end within {max_steps} steps")
    finally:
        batch.close()
    return results  # type: ignore[return-value]


def torch_index(mask: np.ndarray):
    import torch

    return torch.from_numpy(np.flatnonzero(mask))
