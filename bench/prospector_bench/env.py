"""`prospector bench env`: env steps per second, side by side, in one invocation.

Figures (each the median of several runs; every run is kept in the output):

  c_core_sps         the C engine alone, one thread (build/bench_core, which
                     excludes its own action-picking time)
  cffi_batched_sps   Batch.step() (pr_batch_step_many) from Python, one thread, N envs
  cffi_threaded_sps  the same with the engine's own worker threads, one per core
  gym_vector_sps     ProspectorVectorEnv (gymnasium.make_vec("Prospector-v0")), the
                     Gymnasium vector env over one Batch, N envs, one thread: its
                     step() with action checks, copies and the batched info
  vector_mp_sps      PufferLib's Multiprocessing backend over ProspectorPufferEnv,
                     one worker process per core (for comparison)
  gym_single_sps     ProspectorGymEnv, one step per call (resets included)
  reference_sps      the pure-Python ReferenceEnv, one step per call

plus, for comparison, vector_mp_fewer_workers_sps (Multiprocessing with one
worker fewer than cores: PufferLib's parent and workers busy-wait, so one
worker per core leaves more spinning processes than cores).

Two workloads: `random` (uniform over all 69 actions) and `long` (uniform among
the valid actions, CASH_OUT excluded, so episodes run long). Only the env calls
are timed: actions are generated (random: pre-generated; long: picked from the
action masks by prospector.rollout's random_valid_action(s)) outside the timed
region. The C core, batched and threaded figures are measured interleaved, run
by run (with gym_vector), so their ratios compare like with like. Also reported: the state size
per env, the process RSS before / after stepping a batch for many steps (it
must not grow), and how much CPU other processes used during each phase (a
shared machine skews the figures; the output says so).

Targets are printed with pass/fail marks; they never make the command fail.
Only the standard library (and .machine, which shares it with the other
benchmarks) is imported at module level; numpy, the engine and PufferLib load
when the benchmark runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .machine import OtherCpu, Status, cores, fmt_sps, machine_info, median, rss_bytes

WORKLOADS = ("random", "long")
FIGURES = ("c_core_sps", "cffi_batched_sps", "cffi_threaded_sps", "gym_vector_sps", "vector_mp_sps",
           "gym_single_sps", "reference_sps")
# Supplementary: Multiprocessing with one worker fewer than cores. PufferLib's
# workers and its parent busy-wait, so workers = cores oversubscribes the cores
# (cores + 1 spinning processes); this shows what the backend does without that.
EXTRA_FIGURES = ("vector_mp_fewer_workers_sps",)
ALL_FIGURES = FIGURES + EXTRA_FIGURES

# Targets of the issue: (figure or ratio, workload -> threshold).
TARGET_C_CORE = {"random": 4_000_000, "long": 5_000_000}
TARGET_BATCHED_OVER_CORE = 0.80
TARGET_THREADED_OVER_BATCHED = 1.7
TARGET_GYM_VECTOR_OVER_BATCHED = 0.50
MEMORY_GROWTH_TOLERANCE = 1 << 20  # bytes; RSS noise below this counts as "no growth"
OTHER_CPU_NOTE = 0.2  # cores used by other processes in a phase above which the output says so

ROOT = Path(__file__).resolve().parents[2]  # repo root (bench/prospector_bench/env.py)


@dataclass
class Sizes:
    # 256 envs x 13.8 KB stay in this machine's 2 MiB L2 per core; 1024 spill
    # out of it and the single-thread figure drops by about a quarter
    n_envs: int = 256           # envs per batch (C core, cffi, vector)
    steps: int = 2000           # batch steps per run (each steps every env once)
    repeats: int = 5            # runs per figure and workload (median reported)
    gym_steps: int = 10_000     # single-env steps per Gymnasium run
    ref_steps: int = 2_000      # single-env steps per reference run
    ref_repeats: int = 3
    mem_steps: int = 40_000     # batch steps of the memory check (x 256 envs: 10 M steps)
    vec_max_seconds: float = 3.0  # a vector_mp run stops after this long
    threads: int = 0            # engine threads and vector workers; 0 = one per core

    @classmethod
    def quick(cls) -> Sizes:
        return cls(n_envs=64, steps=40, repeats=3, gym_steps=300, ref_steps=100, ref_repeats=3,
                   mem_steps=100, vec_max_seconds=1.0)


@dataclass
class Results:
    sizes: dict
    machine: dict
    figures: dict = field(default_factory=lambda: {f: {w: None for w in WORKLOADS} for f in ALL_FIGURES})
    runs: dict = field(default_factory=lambda: {f: {w: [] for w in WORKLOADS} for f in ALL_FIGURES})
    state_bytes: int | None = None
    memory: dict = field(default_factory=dict)
    episodes: dict = field(default_factory=dict)
    other_cpu: dict = field(default_factory=dict)  # phase -> cores used by other processes
    notes: list = field(default_factory=list)


# ---- action generation (never timed) ------------------------------------------------


def random_actions(rng, steps: int, n: int):
    """Uniform over all 69 actions, pre-generated: [steps, n] int32."""
    import numpy as np
    from prospector import spec
    return rng.integers(0, spec.N_ACTIONS, size=(steps, n), dtype=np.int32)


# ---- c_core_sps: build/bench_core -----------------------------------------------------


def bench_core_binary(status: Status) -> Path | None:
    """build/bench_core, (re)built by `make build/bench_core` when make is there."""
    binary = ROOT / "build" / "bench_core"
    if (ROOT / "Makefile").exists() and shutil.which("make"):
        status("make build/bench_core (rebuilt when the engine changed)")
        proc = subprocess.run(["make", "-s", "-C", str(ROOT), "build/bench_core"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            status(f"make build/bench_core failed (rc {proc.returncode}): {proc.stderr.strip()[-400:]}")
    return binary if binary.exists() else None


def run_c_core(binary: Path, n: int, steps: int, workload: str) -> dict:
    """One bench_core run (repeats=1) of one workload; its JSON object."""
    proc = subprocess.run([str(binary), str(n), str(steps), "1", workload],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


# ---- cffi: Batch.step() ---------------------------------------------------------------


def run_batch(n: int, steps: int, threads: int, workload: str, seed: int) -> tuple[float, int]:
    """One run: a fresh Batch (seeds 0..n-1, as bench_core), `steps` timed
    Batch.step() calls. Returns (steps per second, episodes finished)."""
    import numpy as np
    from prospector.engine import Batch
    from prospector.rollout import random_valid_actions

    rng = np.random.default_rng(seed)
    pool = random_actions(rng, steps, n) if workload == "random" else None
    batch = Batch(n, None, threads)
    try:
        batch.reset(0)
        batch.read_log()
        acts, masks = batch.actions, batch.action_masks
        step = batch.step
        clock = time.perf_counter
        elapsed = 0.0
        for s in range(steps):
            if pool is not None:
                acts[:] = pool[s]
            else:
                random_valid_actions(rng, masks, acts)
            t0 = clock()
            step()
            elapsed += clock() - t0
        episodes, _, _ = batch.read_log()
    finally:
        batch.close()
    return n * steps / elapsed, episodes


# ---- gym_vector_sps: the Gymnasium vector env ------------------------------------------


def run_gym_vector(n: int, steps: int, workload: str, seed: int) -> float:
    """One run: a fresh ProspectorVectorEnv of n envs (seeds 0..n-1), `steps` timed
    step() calls, as a Gymnasium user makes them (int64 actions, as
    action_space.sample() gives; long: picked from info["action_mask"], untimed)."""
    import numpy as np
    from prospector.gym_vector import ProspectorVectorEnv
    from prospector.rollout import random_valid_actions

    rng = np.random.default_rng(seed)
    pool = random_actions(rng, steps, n).astype(np.int64) if workload == "random" else None
    envs = ProspectorVectorEnv(num_envs=n)
    try:
        _, info = envs.reset(seed=0)
        acts = np.zeros(n, dtype=np.int64)
        step = envs.step
        clock = time.perf_counter
        elapsed = 0.0
        for s in range(steps):
            if pool is not None:
                acts = pool[s]
            else:
                random_valid_actions(rng, info["action_mask"], acts)
            t0 = clock()
            info = step(acts)[4]
            elapsed += clock() - t0
    finally:
        envs.close()
    return n * steps / elapsed


# ---- vector_mp_sps: PufferLib Multiprocessing ---------------------------------------------


def _vector_env_class():
    from prospector import spec
    from prospector.puffer_env import ProspectorPufferEnv

    class SharedMaskPufferEnv(ProspectorPufferEnv):
        """ProspectorPufferEnv whose action masks are also copied, after each reset
        and step, into a shared array the parent process reads (slot = worker)."""

        def __init__(self, num_envs=1, shared_masks=None, slot=0, n_slots=1, **kwargs):
            super().__init__(num_envs=num_envs, **kwargs)
            self._shared = None
            if shared_masks is not None:
                import numpy as np
                all_masks = np.frombuffer(shared_masks, dtype=np.uint8)
                self._shared = all_masks.reshape(n_slots, num_envs, spec.N_ACTIONS)[slot]
                self._shared[:] = self.action_masks

        def reset(self, seed=None):
            out = super().reset(seed)
            if getattr(self, "_shared", None) is not None:
                self._shared[:] = self.action_masks
            return out

        def step(self, actions):
            out = super().step(actions)
            if self._shared is not None:
                self._shared[:] = self.action_masks
            return out

    return SharedMaskPufferEnv


def run_vector(n: int, steps: int, workers: int, workload: str, repeats: int, seed: int,
               status: Status, max_seconds: float, label: str = "vector_mp") -> tuple[list[float], int]:
    """`repeats` timed segments of up to `steps` send/recv pairs (each segment
    stops early after max_seconds) on one Multiprocessing vector env of `workers`
    worker processes (n // workers envs each). Returns (runs, segments cut short)."""
    import multiprocessing

    import numpy as np
    import pufferlib.vector
    from prospector import spec
    from prospector.rollout import random_valid_actions

    per_worker = max(1, n // workers)
    total = per_worker * workers
    cls = _vector_env_class()
    shared = multiprocessing.RawArray("B", total * spec.N_ACTIONS) if workload == "long" else None
    kwargs = [dict(num_envs=per_worker, shared_masks=shared, slot=i, n_slots=workers)
              for i in range(workers)]
    vec = pufferlib.vector.make([cls] * workers, env_args=[[] for _ in range(workers)], env_kwargs=kwargs,
                                backend=pufferlib.vector.Multiprocessing, num_envs=workers,
                                num_workers=workers, seed=0,
                                overwork=True)  # cores counts hyperthreads; PufferLib wants physical
    rng = np.random.default_rng(seed)
    masks = (np.frombuffer(shared, dtype=np.uint8).reshape(total, spec.N_ACTIONS)
             if shared is not None else None)
    acts = np.zeros(total, dtype=np.int32)
    runs = []
    try:
        vec.async_reset(0)
        vec.recv()
        # warm up (the first send also checks the action space)
        for _ in range(5):
            vec.send(acts)
            vec.recv()
        clock = time.perf_counter
        capped = 0
        for r in range(repeats):
            pool = random_actions(rng, steps, total) if masks is None else None
            elapsed = 0.0
            done = 0
            start = clock()
            for s in range(steps):
                if s >= 10 and clock() - start > max_seconds:
                    capped += 1
                    break
                if pool is not None:
                    acts[:] = pool[s]
                else:
                    random_valid_actions(rng, masks, acts)
                t0 = clock()
                vec.send(acts)
                vec.recv()
                elapsed += clock() - t0
                done += 1
            runs.append(total * done / elapsed)
            status(f"  {label} {workload} run {r + 1}/{repeats}: {fmt_sps(runs[-1])} sps ({done} steps)")
    finally:
        vec.close()
    return runs, capped


# ---- gym_single_sps and reference_sps ------------------------------------------------------


def run_single(reset, step, mask, steps: int, workload: str, seed: int) -> float:
    """Steps per second of a one-game env, one step per call: reset(seed) starts
    an episode, step(a) -> episode ended?, mask() -> current action mask. step()
    and the resets at episode ends are timed; actions are picked untimed."""
    import random

    import numpy as np
    from prospector import spec
    from prospector.rollout import random_valid_action

    rng = np.random.default_rng(seed)
    pool = rng.integers(0, spec.N_ACTIONS, size=steps) if workload == "random" else None
    pick_rng = random.Random(seed)
    clock = time.perf_counter
    episode_seed = seed
    reset(episode_seed)
    elapsed = 0.0
    for s in range(steps):
        if pool is not None:
            a = int(pool[s])
        else:
            a = random_valid_action(pick_rng, mask(), exclude=(spec.A_CASH_OUT,))
        t0 = clock()
        if step(a):
            episode_seed += 1
            reset(episode_seed)
        elapsed += clock() - t0
    return steps / elapsed


def run_gym(steps: int, workload: str, seed: int) -> float:
    """ProspectorGymEnv: reset / step as a Gymnasium user calls them (the
    mask comes in info, as the env builds it on every step)."""
    from prospector.gym_env import ProspectorGymEnv

    env = ProspectorGymEnv()
    last = {}

    def reset(s):
        last["info"] = env.reset(seed=s)[1]

    def step(a):
        _, _, terminated, truncated, last["info"] = env.step(a)
        return terminated or truncated

    try:
        return run_single(reset, step, lambda: last["info"]["action_mask"], steps, workload, seed)
    finally:
        env.close()


def run_reference(steps: int, workload: str, seed: int) -> float:
    """ReferenceEnv: step(a) returns (obs, reward, terminated, truncated); its
    mask is read outside the timed region (as the Batch's mask buffer is)."""
    from prospector.reference.env import ReferenceEnv

    env = ReferenceEnv(seed=None)

    def step(a):
        _, _, terminated, truncated = env.step(a)
        return terminated or truncated

    return run_single(env.reset, step, env.action_mask, steps, workload, seed)


# ---- memory --------------------------------------------------------------------------------


def check_memory(n: int, steps: int, threads: int, seed: int) -> dict:
    """RSS before / after stepping a threaded batch for `steps` steps (random
    actions: many episodes end and auto-reset), log never read meanwhile."""
    import numpy as np
    from prospector.engine import Batch

    rng = np.random.default_rng(seed)
    pool = random_actions(rng, 64, n)
    rss_start = rss_bytes()
    batch = Batch(n, None, threads)
    try:
        for s in range(200):  # warm up: every env through its first episodes
            batch.actions[:] = pool[s % 64]
            batch.step()
        rss_before = rss_bytes()
        for s in range(steps):
            batch.actions[:] = pool[s % 64]
            batch.step()
        rss_after = rss_bytes()
        episodes, _, _ = batch.read_log()
    finally:
        batch.close()
    growth = rss_after - rss_before
    return {
        "n_envs": n,
        "steps": steps,
        "threads": threads,
        "episodes": int(episodes),
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_growth": growth,
        "batch_rss_per_env": (rss_before - rss_start) / n,  # after creation + warm-up
        "ok": growth < MEMORY_GROWTH_TOLERANCE,
    }


# ---- the benchmark -------------------------------------------------------------------------


def run(sizes: Sizes, status: Status) -> Results:
    from prospector._engine import ffi

    threads = sizes.threads or cores()
    sizes = Sizes(**{**asdict(sizes), "threads": threads})
    res = Results(sizes=asdict(sizes), machine=machine_info())
    res.state_bytes = int(ffi.sizeof("pr_env"))
    n, steps, reps = sizes.n_envs, sizes.steps, sizes.repeats
    status(f"{res.machine['cores']} cores ({res.machine['cpu_model']}); N={n} envs, {steps} steps/run, "
           f"{reps} runs; state {res.state_bytes} bytes/env")

    binary = bench_core_binary(status)
    if binary is None:
        res.notes.append("c_core_sps: build/bench_core not found and could not be built (make build/bench_core)")

    # Memory first: the first big batch of the process shows its resident size per env
    # (later ones reuse memory the allocator kept). Then no growth while stepping.
    other = OtherCpu()
    status(f"memory: stepping {n} envs x {sizes.mem_steps} steps ({threads} threads)")
    other.start()
    res.memory = check_memory(n, sizes.mem_steps, threads, seed=99)
    res.other_cpu["memory"] = other.stop()

    # C core, cffi batched, cffi threaded: interleaved run by run.
    for w in WORKLOADS:
        other.start()
        if binary is not None:  # warm-up run (page cache, CPU frequency), not counted
            run_c_core(binary, n, max(1, steps // 10), w)
        for r in range(reps):
            if binary is not None:
                out = run_c_core(binary, n, steps, w)
                res.runs["c_core_sps"][w].append(float(out[f"{w}_sps"]))
                c_bytes = int(out["state_bytes"])
                if c_bytes != res.state_bytes:
                    res.notes.append(f"state size differs: bench_core says {c_bytes}, cffi says {res.state_bytes}")
            seed = 1000 * r + (0 if w == "random" else 1)
            sps, eps = run_batch(n, steps, 1, w, seed)
            res.runs["cffi_batched_sps"][w].append(sps)
            res.episodes.setdefault(w, eps)
            sps_t, _ = run_batch(n, steps, threads, w, seed)
            res.runs["cffi_threaded_sps"][w].append(sps_t)
            sps_g = run_gym_vector(n, steps, w, seed)
            res.runs["gym_vector_sps"][w].append(sps_g)
            core = res.runs["c_core_sps"][w][-1] if binary is not None else None
            status(f"{w} run {r + 1}/{reps}: c_core {fmt_sps(core)}, cffi_batched {fmt_sps(sps)}, "
                   f"cffi_threaded({threads}) {fmt_sps(sps_t)}, gym_vector {fmt_sps(sps_g)} sps")
        res.other_cpu[f"c_core+cffi+gym_vector {w}"] = other.stop()

    # PufferLib Multiprocessing over all cores (and, for comparison, one worker fewer).
    variants = [("vector_mp_sps", threads)]
    if threads >= 2:
        variants.append(("vector_mp_fewer_workers_sps", threads - 1))
    res.sizes["vector_workers"] = {key: workers for key, workers in variants}
    for key, workers in variants:
        label = key.removesuffix("_sps")
        for w in WORKLOADS:
            status(f"{label} {w}: starting {workers} worker processes")
            other.start()
            try:
                runs, capped = run_vector(n, steps, workers, w, reps, seed=7 + len(w), status=status,
                                          max_seconds=sizes.vec_max_seconds, label=label)
                res.runs[key][w] = runs
                if capped:
                    res.notes.append(f"{key} {w}: {capped} of {reps} runs stopped after "
                                     f"{sizes.vec_max_seconds:g}s, before {steps} steps")
            except Exception as e:  # report, do not fail the whole benchmark
                res.notes.append(f"{key} {w}: failed: {type(e).__name__}: {e}")
                status(f"{label} {w} failed: {type(e).__name__}: {e}")
            res.other_cpu[f"{label} {w}"] = other.stop()
    res.notes.append(
        f"vector_mp_sps: PufferLib Multiprocessing, {threads} worker processes x {max(1, n // threads)} envs "
        "(ProspectorPufferEnv each); for `long` each worker copies its action masks into shared memory "
        "after every step (counted in the timing) so the parent picks valid actions")
    if threads >= 2:
        res.notes.append(
            f"vector_mp_fewer_workers_sps: the same with {threads - 1} worker(s) x {max(1, n // (threads - 1))} "
            "envs. PufferLib's parent and workers busy-wait, so workers = cores leaves cores + 1 spinning "
            "processes on the cores and steps wait on the scheduler (milliseconds each)")

    # Gymnasium, one step per call (after a short untimed warm-up).
    other.start()
    run_gym(max(1, sizes.gym_steps // 10), "random", seed=12345)
    for w in WORKLOADS:
        for r in range(reps):
            res.runs["gym_single_sps"][w].append(run_gym(sizes.gym_steps, w, seed=r))
        status(f"gym_single {w}: {fmt_sps(median(res.runs['gym_single_sps'][w]))} sps")

    res.other_cpu["gym_single"] = other.stop()

    # Pure-Python reference.
    other.start()
    for w in WORKLOADS:
        try:
            if w == WORKLOADS[0]:
                run_reference(max(1, sizes.ref_steps // 10), "random", seed=12345)  # warm-up
            for r in range(sizes.ref_repeats):
                res.runs["reference_sps"][w].append(run_reference(sizes.ref_steps, w, seed=r))
            status(f"reference {w}: {fmt_sps(median(res.runs['reference_sps'][w]))} sps")
        except Exception as e:  # report, do not fail the whole benchmark
            res.notes.append(f"reference_sps {w}: failed: {type(e).__name__}: {e}")
            status(f"reference {w} failed: {type(e).__name__}: {e}")
    res.other_cpu["reference"] = other.stop()

    for f in ALL_FIGURES:
        for w in WORKLOADS:
            res.figures[f][w] = median(res.runs[f][w])
    if threads < 2:
        res.notes.append("cffi_threaded_sps: only one core available, so it ran with one thread")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    res.machine["load_avg_at_end"] = list(load) if load else None
    busy = {phase: c for phase, c in res.other_cpu.items() if c is not None and c > OTHER_CPU_NOTE}
    if busy:
        res.notes.append(
            "the machine was shared: other processes used, on average, "
            + ", ".join(f"{c:.2f} cores during {phase}" for phase, c in busy.items())
            + f" (of {res.machine['cores']}); those figures are disturbed, the threaded and "
            "multiprocess ones most")
    return res


def ratios(res: Results) -> dict:
    def ratio(a, b):
        return {w: (res.figures[a][w] / res.figures[b][w]
                    if res.figures[a][w] is not None and res.figures[b][w] else None) for w in WORKLOADS}

    return {
        "cffi_batched_over_c_core": ratio("cffi_batched_sps", "c_core_sps"),
        "cffi_threaded_over_cffi_batched": ratio("cffi_threaded_sps", "cffi_batched_sps"),
        "gym_vector_over_cffi_batched": ratio("gym_vector_sps", "cffi_batched_sps"),
        "vector_mp_over_cffi_threaded": ratio("vector_mp_sps", "cffi_threaded_sps"),
        "cffi_batched_over_gym_single": ratio("cffi_batched_sps", "gym_single_sps"),
        "gym_single_over_reference": ratio("gym_single_sps", "reference_sps"),
    }


def paired_ratios(res: Results) -> dict:
    """Median over runs of the ratio within each run (runs are interleaved, so
    each pair ran back to back): less sensitive to load changing over time."""
    def paired(a, b):
        out = {}
        for w in WORKLOADS:
            xs, ys = res.runs[a][w], res.runs[b][w]
            out[w] = median([x / y for x, y in zip(xs, ys) if y]) if xs and len(xs) == len(ys) else None
        return out

    return {
        "cffi_batched_over_c_core": paired("cffi_batched_sps", "c_core_sps"),
        "cffi_threaded_over_cffi_batched": paired("cffi_threaded_sps", "cffi_batched_sps"),
        "gym_vector_over_cffi_batched": paired("gym_vector_sps", "cffi_batched_sps"),
    }


def targets(res: Results, rat: dict) -> list[dict]:
    out = []

    def add(name, value, threshold, unit=""):
        out.append({"target": name, "value": value, "threshold": threshold,
                    "pass": None if value is None else bool(value >= threshold), "unit": unit})

    for w in WORKLOADS:
        add(f"c_core_sps {w} >= {fmt_sps(TARGET_C_CORE[w])}", res.figures["c_core_sps"][w], TARGET_C_CORE[w], "sps")
    for w in WORKLOADS:
        add(f"cffi_batched_sps {w} >= {TARGET_BATCHED_OVER_CORE:.0%} of c_core_sps",
            rat["cffi_batched_over_c_core"][w], TARGET_BATCHED_OVER_CORE, "x")
    for w in WORKLOADS:
        add(f"cffi_threaded_sps {w} >= {TARGET_THREADED_OVER_BATCHED}x cffi_batched_sps (2 cores)",
            rat["cffi_threaded_over_cffi_batched"][w], TARGET_THREADED_OVER_BATCHED, "x")
    for w in WORKLOADS:
        add(f"gym_vector_sps {w} >= {TARGET_GYM_VECTOR_OVER_BATCHED:.0%} of cffi_batched_sps",
            rat["gym_vector_over_cffi_batched"][w], TARGET_GYM_VECTOR_OVER_BATCHED, "x")
    mem = res.memory
    if mem:
        out.append({"target": f"RSS growth over {mem['steps']} batch steps < 1 MiB", "value": mem["rss_growth"],
                    "threshold": MEMORY_GROWTH_TOLERANCE, "pass": bool(mem["ok"]), "unit": "bytes"})
    return out


def to_json(res: Results) -> dict:
    rat = ratios(res)
    out = {f: dict(res.figures[f]) for f in ALL_FIGURES}
    out.update({
        "state_bytes": res.state_bytes,
        "ratios": rat,
        "ratios_paired": paired_ratios(res),
        "runs": res.runs,
        "targets": targets(res, rat),
        "memory": res.memory,
        "episodes_per_run": res.episodes,
        "other_cpu": res.other_cpu,
        "machine": res.machine,
        "sizes": res.sizes,
        "notes": res.notes,
    })
    return out


def print_report(res: Results, file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    out = file or sys.stdout
    width = None if out.isatty() else 132  # rich would use 80 columns for a pipe
    console = Console(file=out, highlight=False, width=width)
    rat = ratios(res)
    s = res.sizes
    m = res.machine
    console.print(f"[bold]prospector bench env[/]: {m['cores']} cores, {m['cpu_model']}; "
                  f"N={s['n_envs']} envs, {s['steps']} steps/run, {s['repeats']} runs "
                  f"(reference: {s['ref_steps']} steps x {s['ref_repeats']}), threads={s['threads']}")

    table = Table(title="env steps per second (median of runs)")
    table.add_column("figure")
    for w in WORKLOADS:
        table.add_column(w, justify="right")
    for w in WORKLOADS:
        table.add_column(f"{w} runs", justify="left", style="dim")
    for f in ALL_FIGURES:
        table.add_row(f, *(fmt_sps(res.figures[f][w]) for w in WORKLOADS),
                      *(" ".join(fmt_sps(x).replace(" ", "") for x in res.runs[f][w]) for w in WORKLOADS))
    console.print(table)

    rt = Table(title="ratios (measured side by side in this run)")
    rt.add_column("ratio")
    for w in WORKLOADS:
        rt.add_column(w, justify="right")
    for name, vals in rat.items():
        rt.add_row(name, *("n/a" if vals[w] is None else f"{vals[w]:.2f}" for w in WORKLOADS))
    for name, vals in paired_ratios(res).items():
        rt.add_row(f"{name} (median of per-run ratios)",
                   *("n/a" if vals[w] is None else f"{vals[w]:.2f}" for w in WORKLOADS), style="dim")
    console.print(rt)

    tt = Table(title="targets (reported, never fatal)")
    tt.add_column("")
    tt.add_column("target")
    tt.add_column("measured", justify="right")
    for t in targets(res, rat):
        mark = "[green]PASS[/]" if t["pass"] else ("[red]FAIL[/]" if t["pass"] is False else "n/a")
        v = t["value"]
        if v is None:
            shown = "n/a"
        elif t["unit"] == "sps":
            shown = fmt_sps(v)
        elif t["unit"] == "bytes":
            shown = f"{v / 1024:+.0f} KiB"
        else:
            shown = f"{v:.2f}x"
        tt.add_row(mark, t["target"], shown)
    console.print(tt)

    mem = res.memory
    console.print(f"state size: {res.state_bytes} bytes per env (sizeof pr_env)")
    if mem:
        console.print(f"memory: RSS {mem['rss_before'] / 2**20:.1f} MiB before, {mem['rss_after'] / 2**20:.1f} MiB "
                      f"after {mem['steps']} steps of {mem['n_envs']} envs ({mem['episodes']} episodes ended); "
                      f"growth {mem['rss_growth'] / 1024:+.0f} KiB; batch RSS {mem['batch_rss_per_env']:.0f} "
                      f"bytes per env")
    if res.other_cpu:
        console.print("CPU used by other processes (cores, average): "
                      + ", ".join(f"{phase} {'n/a' if c is None else f'{c:.2f}'}"
                                  for phase, c in res.other_cpu.items()))
    if res.episodes:
        console.print("episodes ended per cffi_batched run: " + ", ".join(f"{w} {e}" for w, e in res.episodes.items()))
    for note in res.notes:
        console.print(f"note: {note}", markup=False)


# ---- CLI -------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    p.add_argument("--quick", action="store_true", help="small sizes, a few seconds (for tests)")
    p.add_argument("--n-envs", type=int, default=None, help="envs per batch (default 256; quick 64)")
    p.add_argument("--steps", type=int, default=None, help="batch steps per run (default 1000; quick 40)")
    p.add_argument("--repeats", type=int, default=None, help="runs per figure and workload (default 5; quick 3)")
    p.add_argument("--threads", type=int, default=None, help="engine threads and vector workers (default: one per core)")


def main_env(args: argparse.Namespace) -> int:
    sizes = Sizes.quick() if args.quick else Sizes()
    for name in ("n_envs", "steps", "repeats", "threads"):
        v = getattr(args, name, None)
        if v is not None:
            if v < (0 if name == "threads" else 1):
                raise ValueError(f"--{name.replace('_', '-')} must be {'>= 0' if name == 'threads' else '>= 1'}, got {v}")
            setattr(sizes, name, v)
    status = Status()
    t0 = time.perf_counter()
    res = run(sizes, status)
    status(f"done in {time.perf_counter() - t0:.1f}s")
    if args.json:
        print(json.dumps(to_json(res), indent=2))
    else:
        print_report(res)
    return 0


def main(argv=None) -> int:
    """`python -m prospector_bench.env ...`: the same as `prospector bench env ...`."""
    from prospector.cli import main as cli_main

    return cli_main(["bench", "env", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
