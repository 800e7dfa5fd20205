"""Fitting a policy's greedy head (prospector_common.policy.greedy) by evolution strategies.

PPO only ever samples, so nothing in training makes its argmax good (LEARNING.md, E10-E21). This
fits the head's correction (N_PARAMS numbers) on what is wanted: the net profit of the greedy
game, full game, 20000 ticks. Each generation plays `pairs` antithetic pairs of perturbed heads
(theta +- sigma * eps) on the same `games` fresh seeds (calibration seeds from 2,000,000 on, a
new set each generation: never the tuning or held-out ranges), ranks them, and moves theta with
Adam along the rank-weighted perturbations. The whole population plays as one C batch per worker
process (the policy's torch forward once per step for every row, each row's head applied in
numpy), one worker per core.

    head = fit_greedy_head(policy, generations=40, progress=print)
    prospector fit-greedy runs/RUN/checkpoints/ckpt_39.pt      # writes the head into the checkpoint

Deterministic for a policy and settings (the seeds, the perturbations and the split of the
population over the workers are fixed), so `prospector bench learn` reproduces a shipped head.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from prospector_common.policy.greedy import N_PARAMS, GreedyDecoder, GreedyHead, corrections

CALIBRATION_SEED0 = 2_000_000   # generation g plays seeds CALIBRATION_SEED0 + 1000 g .. + games - 1
WORKERS = 2


@dataclass(frozen=True)
class FitSettings:
    generations: int = 40
    pairs: int = 16           # antithetic pairs per generation: 2 * pairs heads
    games: int = 12           # games per head per generation (the same seeds for every head)
    sigma: float = 0.1        # perturbation scale
    learning_rate: float = 0.03  # Adam's step
    seed: int = 12345         # the perturbations' generator
    seed0: int = CALIBRATION_SEED0
    time_max: int | None = None  # the game's length; None: the full game's 20000 ticks (shorter for tests)


class Population:
    """m heads played side by side: rows in m consecutive groups of g, group j played by head j
    (corrections() of the stacked parameters); a GreedyDecoder's `head`."""

    def __init__(self, thetas: np.ndarray, memory_penalty: float) -> None:
        heads = [GreedyHead.from_vector(t) for t in thetas]
        self.W = np.stack([h.W for h in heads])
        self.u = np.stack([h.u for h in heads])
        self.v = np.stack([h.v for h in heads])
        self.memory_penalty = memory_penalty

    def correction(self, obs: np.ndarray) -> np.ndarray:
        return corrections(obs, self.W, self.u, self.v)


class PopulationPlayer:
    """A rollout.BatchAgent for a Population: each row played greedily by its group's head (its
    correction, a travel memory per row, the idle set masked)."""

    def __init__(self, policy, action_masking: bool, thetas: np.ndarray, memory_penalty: float) -> None:
        self.population = Population(thetas, memory_penalty)
        self.policy, self.action_masking = policy, action_masking

    def start(self, n: int) -> None:
        self.decoder = GreedyDecoder(self.population, n)

    def act(self, observations, masks):
        import torch

        from prospector_common.policy.network import policy_input

        obs = np.asarray(observations, dtype=np.float32)
        with torch.no_grad():
            logits, _ = self.policy.forward_eval(torch.from_numpy(policy_input(obs, masks, self.action_masking)), {})
        return self.decoder.choose(logits.numpy(), obs)

    def episodes_ended(self, rows) -> None:
        pass  # play_batch plays one episode per row


# ---- the workers: each holds the policy once ----------------------------------------------------

_worker: dict = {}


def _worker_init(checkpoint_state: dict, policy_kwargs: dict) -> None:
    import torch

    from prospector_common.policy.network import make_policy

    torch.set_num_threads(1)
    policy = make_policy(**policy_kwargs)
    policy.load_state_dict(checkpoint_state)
    _worker["policy"] = policy.eval()
    _worker["masking"] = bool(policy_kwargs.get("action_masking", False))


def _play(args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    thetas, seeds, memory_penalty, time_max = args
    from prospector.engine import Batch
    from prospector.rollout import play_batch
    from prospector.spec import EnvConfig

    m, g = len(thetas), len(seeds)
    player = PopulationPlayer(_worker["policy"], _worker["masking"], thetas, memory_penalty)
    config = EnvConfig().replace(reward_mode="shaped", **({"time_max": time_max} if time_max else {}))
    with Batch(m * g, config, 1) as batch:
        results = play_batch(player, batch, np.tile(np.asarray(seeds, dtype=np.uint64), m))
    metric = {k: np.array([r[k] for r in results]).reshape(m, g) for k in ("net_profit", "survival", "stranded")}
    return metric["net_profit"], metric["survival"], metric["stranded"]


class Fitter:
    """The worker pool and the population's games (see the module doc)."""

    def __init__(self, policy, policy_kwargs: dict, workers: int = WORKERS,
                 memory_penalty: float | None = None, time_max: int | None = None) -> None:
        from prospector_common.policy.greedy import DEFAULT_MEMORY_PENALTY

        self.memory_penalty = DEFAULT_MEMORY_PENALTY if memory_penalty is None else memory_penalty
        self.workers = workers
        self.time_max = time_max
        state = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
        # spawn, not fork: a fork after torch's thread pool has run (a training just before) can hang
        self.pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init,
                                                 initargs=(state, dict(policy_kwargs)))

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()

    def __enter__(self) -> Fitter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def play(self, thetas: np.ndarray, seeds: list[int]) -> dict[str, np.ndarray]:
        """Per head, per seed: net profit, survival, stranded ([m, len(seeds)] each)."""
        thetas = np.asarray(thetas, dtype=np.float32).reshape(-1, N_PARAMS)
        if len(thetas) == 1:   # one head: split the seeds
            parts = [(thetas, list(s), self.memory_penalty, self.time_max)
                     for s in np.array_split(np.asarray(seeds), self.workers) if len(s)]
            outs = self.pool.map(_play, parts)
            joined = [np.concatenate([o[i] for o in outs], axis=1) for i in range(3)]
        else:                  # a population: split the heads
            parts = [(thetas[c], list(seeds), self.memory_penalty, self.time_max)
                     for c in np.array_split(np.arange(len(thetas)), self.workers) if len(c)]
            outs = self.pool.map(_play, parts)
            joined = [np.concatenate([o[i] for o in outs], axis=0) for i in range(3)]
        return dict(zip(("net_profit", "survival", "stranded"), joined))


def centered_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks scaled to -0.5..0.5 (ties by order): the update ignores the profits' scale and outliers."""
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    return ranks / max(1, len(x) - 1) - 0.5


def fit_greedy_head(policy, policy_kwargs: dict, settings: FitSettings = FitSettings(),
                    progress: Callable[[dict], None] | None = None, workers: int = WORKERS,
                    start: GreedyHead | None = None) -> GreedyHead:
    """ES on the greedy game's net profit (module doc); returns the head of the last generation,
    with `fitted` saying how it was made and each generation's population mean."""
    s = settings
    rng = np.random.default_rng(s.seed)
    theta = start.vector() if start is not None else np.zeros(N_PARAMS, np.float32)
    m1, m2, beta1, beta2 = np.zeros(N_PARAMS), np.zeros(N_PARAMS), 0.9, 0.999
    history, t0 = [], time.time()
    with Fitter(policy, policy_kwargs, workers, time_max=s.time_max) as fitter:
        for gen in range(s.generations):
            # float32 parameters and perturbations (the arithmetic of the fit shipped with the model)
            eps = rng.standard_normal((s.pairs, N_PARAMS)).astype(np.float32)
            population = np.concatenate([theta + s.sigma * eps, theta - s.sigma * eps])
            seeds = [s.seed0 + 1000 * gen + i for i in range(s.games)]
            scores = fitter.play(population, seeds)
            fitness = scores["net_profit"].mean(axis=1)
            w = centered_ranks(fitness)
            grad = ((w[:s.pairs] - w[s.pairs:])[:, None] * eps).sum(axis=0) / (s.pairs * s.sigma)
            m1 = beta1 * m1 + (1 - beta1) * grad
            m2 = beta2 * m2 + (1 - beta2) * grad ** 2
            step = s.learning_rate * (m1 / (1 - beta1 ** (gen + 1))) / (np.sqrt(m2 / (1 - beta2 ** (gen + 1))) + 1e-8)
            theta = (theta + step).astype(np.float32)
            row = {"generation": gen + 1, "population_net_profit_mean": round(float(fitness.mean()), 1),
                   "population_best": round(float(fitness.max()), 1),
                   "population_survival": round(float(scores["survival"].mean()), 4),
                   "seconds": round(time.time() - t0, 1)}
            history.append(row)
            if progress is not None:
                progress(row)
    fitted = {"method": "evolution strategies (antithetic, centered ranks, Adam) on the greedy game's net profit",
              "settings": asdict(s), "calibration_seeds": f"{s.seed0}.. (generation g: +1000 g, {s.games} games)",
              "seconds": round(time.time() - t0, 1),
              "population_net_profit_mean": [r["population_net_profit_mean"] for r in history]}
    return GreedyHead.from_vector(theta, memory_penalty=fitter.memory_penalty, fitted=fitted)


def fit_checkpoint(checkpoint: Path, settings: FitSettings = FitSettings(), out: Path | None = None,
                   progress: Callable[[dict], None] | None = None) -> GreedyHead:
    """Fit the head of a trainer checkpoint's policy and write it into the checkpoint (or `out`)
    under "greedy_head"; the rest of the checkpoint is unchanged."""
    from prospector_common.policy import checkpoint as ckpt

    policy, data = ckpt.load_policy(Path(checkpoint))
    head = fit_greedy_head(policy, data["policy_kwargs"], settings, progress)
    ckpt.save(Path(out or checkpoint), {**data, "greedy_head": head.state_dict()})
    return head
