"""Baseline bots of the game design: greedy miner, cautious scanner, market
timer, and a random policy. They read the observation (and the action mask,
which every player sees) and nothing hidden.

All three prospecting bots share one routine (leave the station for a
cluster next to it, pick an asteroid, mine, come home, sell, refit) and
differ in their risk posture, which is what their parameters say.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from . import spec
# Observed prices are price / (PRICE_OBS_SCALE * nominal); the game's public
# price list turns them back into credits.
from .reference.tuning import T_PRICE_NOMINAL as PRICE_NOMINAL
from .reference.tuning import T_PRICE_OBS_SCALE as PRICE_OBS_SCALE

NODE_STATION, NODE_CLUSTER, NODE_HAZARD = 0, 1, 2


class Obs:
    """Named reads of one observation vector."""

    def __init__(self, obs: np.ndarray):
        self.v = obs

    fuel = property(lambda self: float(self.v[spec.OBS_FUEL]) * spec.FUEL_MAX)
    hull = property(lambda self: float(self.v[spec.OBS_HULL]) * spec.HULL_MAX)
    heat = property(lambda self: float(self.v[spec.OBS_HEAT]) * spec.HEAT_MAX)
    tool = property(lambda self: float(self.v[spec.OBS_TOOL]) * spec.TOOL_MAX)
    cargo_frac = property(lambda self: float(self.v[spec.OBS_CARGO_TOTAL]))
    time_frac = property(lambda self: float(self.v[spec.OBS_TIME_REMAINING]))
    at_station = property(lambda self: self.v[spec.OBS_AT_STATION] > 0.5)
    has_selection = property(lambda self: self.v[spec.OBS_HAS_SELECTION] > 0.5)
    repair_kits = property(lambda self: round(float(self.v[spec.OBS_REPAIR_KITS]) * 10))
    stabilizers = property(lambda self: round(float(self.v[spec.OBS_STABILIZERS]) * 10))
    decoys = property(lambda self: round(float(self.v[spec.OBS_DECOYS]) * 10))

    def cargo(self, c: int) -> float:
        return float(self.v[spec.OBS_CARGO][c]) * spec.CARGO_MAX

    def prices(self) -> list[float]:
        p = self.v[spec.OBS_PRICE]
        return [float(p[c]) * PRICE_OBS_SCALE * PRICE_NOMINAL[c] for c in range(spec.N_COMMODITIES)]

    def neighbors(self):
        """(slot, type, travel_time_norm, threat) of each valid neighbor."""
        out = []
        for k in range(spec.MAX_NEIGHBORS):
            s = self.v[spec.neighbor_slot(k)]
            if s[spec.NB_VALID] > 0.5:
                out.append((k, int(np.argmax(s[spec.NB_TYPE])), float(s[spec.NB_TRAVEL_TIME]), float(s[spec.NB_THREAT])))
        return out

    def asteroids(self):
        """(slot, composition, stability, depletion, confidence) of each asteroid here."""
        out = []
        for a in range(spec.MAX_ASTEROIDS):
            s = self.v[spec.asteroid_slot(a)]
            if s[spec.AST_VALID] > 0.5:
                out.append((a, [float(x) for x in s[spec.AST_COMPOSITION]], float(s[spec.AST_STABILITY]),
                            float(s[spec.AST_DEPLETION]), float(s[spec.AST_CONFIDENCE])))
        return out


class Bot:
    name = "bot"

    def reset(self, seed: int = 0) -> None:
        pass

    def act(self, obs: np.ndarray, mask: np.ndarray) -> int:
        raise NotImplementedError


class RandomBot(Bot):
    """Uniform over all 69 actions, invalid ones included."""

    name = "random"

    def reset(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def act(self, obs, mask):
        return self.rng.randrange(spec.N_ACTIONS)


@dataclass(frozen=True)
class Posture:
    mine_mode: int              # 0 conservative, 1 standard, 2 aggressive
    return_cargo: float         # head home at this cargo fraction
    heat_limit: float           # cool down above this heat
    active_cooldown: bool       # radiator burst (loud) instead of drifting
    min_hull: float             # head home / patch below this hull
    wide_scan: bool
    focused_scan: bool
    stabilize: bool
    avoid_threat: bool          # pick the quietest cluster, not the nearest
    listen: bool
    buy_decoy: bool
    timed_selling: bool         # wait for good prices and sell in halves
    min_yield: float            # units per tick below which an asteroid is abandoned


class ProspectorBot(Bot):
    """The shared routine; a Posture makes it greedy, cautious or a trader."""

    posture: Posture

    def reset(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.scanned_here = False
        self.listened_here = False
        self.focused: set[int] = set()
        self.stabilized: set[int] = set()
        self.abandoned: set[int] = set()
        self.last_cargo = 0.0
        self.low_yield = 0
        self.price_avg: list[float] | None = None
        self.waited = 0
        self.last_action = spec.A_HOLD
        self.field_slot: int | None = None     # station neighbor slot of the field we work
        self.exhausted: set[int] = set()       # station neighbor slots with nothing left

    # -- helpers ---------------------------------------------------------
    def _value(self, comp, prices) -> float:
        return sum(x * p for x, p in zip(comp, prices))

    def _leave_field(self) -> None:
        self.scanned_here = False
        self.listened_here = False
        self.focused.clear()
        self.stabilized.clear()
        self.abandoned.clear()
        self.low_yield = 0

    def _track_prices(self, o: Obs) -> list[float]:
        prices = o.prices()
        if self.price_avg is None:
            self.price_avg = list(prices)
        else:
            self.price_avg = [0.98 * a + 0.02 * p for a, p in zip(self.price_avg, prices)]
        return prices

    # -- policy ----------------------------------------------------------
    def act(self, obs, mask):
        o = Obs(obs)
        prices = self._track_prices(o)
        action = self._at_station(o, mask, prices) if o.at_station else self._in_field(o, mask, prices)
        self.last_action = action
        return action

    def _at_station(self, o: Obs, mask, prices) -> int:
        p = self.posture
        self._leave_field()
        held = [c for c in range(spec.N_COMMODITIES) if o.cargo(c) > 1e-6]
        if held:
            if not p.timed_selling or o.time_frac < 0.05 or self.waited > 120:
                c = max(held, key=lambda c: o.cargo(c) * prices[c])
                self.waited = 0
                return spec.sell_action(c, 2)
            good = [c for c in held if prices[c] >= 1.03 * self.price_avg[c]]
            if good:
                c = max(good, key=lambda c: o.cargo(c) * prices[c])
                return spec.sell_action(c, 1 if o.cargo(c) > 20 else 2)
            self.waited += 1
            return spec.A_DOCK if mask[spec.A_DOCK] and self.waited % 10 == 1 else spec.A_HOLD
        if o.time_frac < 0.03:
            return spec.A_CASH_OUT
        if (o.hull < 80 or o.tool < 60) and mask[spec.A_OVERHAUL]:
            return spec.A_OVERHAUL
        if o.fuel < 700:
            for a in (spec.A_BUY_FUEL0 + 2, spec.A_BUY_FUEL0 + 1, spec.A_BUY_FUEL0):
                if mask[a]:
                    return a
        if o.repair_kits < 2 and mask[spec.A_BUY_KIT]:
            return spec.A_BUY_KIT
        if p.buy_decoy and o.decoys < 1 and mask[spec.A_BUY_DECOY]:
            return spec.A_BUY_DECOY
        if p.stabilize and o.stabilizers < 1 and mask[spec.A_BUY_STABILIZER]:
            return spec.A_BUY_STABILIZER
        if o.fuel < 150:  # cannot afford to leave
            return spec.A_CASH_OUT
        return self._depart(o)

    def _depart(self, o: Obs) -> int:
        p = self.posture
        fields = [n for n in o.neighbors() if n[0] not in self.exhausted]
        clusters = [n for n in fields if n[1] == NODE_CLUSTER] or fields
        if not clusters:
            return spec.A_CASH_OUT  # every field next to the station is worked out
        if p.avoid_threat:
            k = min(clusters, key=lambda n: (n[3], n[2]))[0]
        else:
            k = min(clusters, key=lambda n: n[2])[0]
        self.last_cargo = 0.0
        self.field_slot = k
        return spec.A_TRAVEL0 + k

    def _home(self, o: Obs) -> int:
        for k, kind, _, _ in o.neighbors():
            if kind == NODE_STATION:
                return spec.A_TRAVEL0 + k
        return spec.A_TRAVEL0  # not expected: bots only work next to the station

    def _in_field(self, o: Obs, mask, prices) -> int:
        p = self.posture
        cargo_total = o.cargo_frac * spec.CARGO_MAX
        mined = cargo_total - self.last_cargo
        self.last_cargo = cargo_total
        # time needed to get home and sell, with margin
        if (o.cargo_frac >= p.return_cargo or o.hull < p.min_hull or o.fuel < 120
                or o.time_frac < 0.04):
            if o.hull < p.min_hull and o.repair_kits > 0 and mask[spec.A_HULL_PATCH]:
                return spec.A_HULL_PATCH
            return self._home(o)
        if o.heat > p.heat_limit:
            return spec.A_COOLDOWN if p.active_cooldown else spec.A_HOLD
        if o.tool < 40 and mask[spec.A_TOOL_MAINT]:
            return spec.A_TOOL_MAINT
        if p.listen and not self.listened_here:
            self.listened_here = True
            return spec.A_LISTEN
        if p.wide_scan and not self.scanned_here and mask[spec.A_WIDE_SCAN]:
            self.scanned_here = True
            return spec.A_WIDE_SCAN

        selected = self._selected(o)
        just_mined = spec.A_MINE0 <= self.last_action < spec.A_MINE0 + 3
        if selected is not None and just_mined:
            self.low_yield = self.low_yield + 1 if mined < p.min_yield else 0
        if selected is None or self.low_yield >= 3 or not mask[spec.A_MINE0]:
            if selected is not None:
                self.abandoned.add(selected)
            self.low_yield = 0
            choice = self._choose(o, prices)
            if choice is None:
                if self.field_slot is not None:
                    self.exhausted.add(self.field_slot)
                return self._home(o)
            return spec.A_SELECT0 + choice
        if p.focused_scan and selected not in self.focused and mask[spec.A_FOCUSED_SCAN]:
            self.focused.add(selected)
            return spec.A_FOCUSED_SCAN
        if (p.stabilize and selected not in self.stabilized and mask[spec.A_STABILIZE]
                and self._stability(o, selected) < 0.55):
            self.stabilized.add(selected)
            return spec.A_STABILIZE
        return spec.A_MINE0 + p.mine_mode

    def _selected(self, o: Obs):
        for a, *_ in o.asteroids():
            if obs_selected(o.v, a):
                return a
        return None

    def _stability(self, o: Obs, slot: int) -> float:
        return float(o.v[spec.asteroid_slot(slot)][spec.AST_STABILITY])

    def _choose(self, o: Obs, prices):
        best, best_v = None, -1.0
        for a, comp, stab, depl, conf in o.asteroids():
            if a in self.abandoned or depl > 0.9:
                continue
            v = self._value(comp, prices) * (1.0 - depl)
            if self.posture.avoid_threat:
                v *= 0.5 + stab
            if v > best_v:
                best, best_v = a, v
        return best


def obs_selected(v: np.ndarray, slot: int) -> bool:
    return v[spec.asteroid_slot(slot)][spec.AST_SELECTED] > 0.5


class GreedyMiner(ProspectorBot):
    """Nearest cluster, aggressive drilling, full holds, no scans."""

    name = "greedy_miner"
    posture = Posture(mine_mode=2, return_cargo=0.95, heat_limit=88.0, active_cooldown=True, min_hull=15.0,
                      wide_scan=False, focused_scan=False, stabilize=False, avoid_threat=False, listen=False,
                      buy_decoy=False, timed_selling=False, min_yield=0.15)


class CautiousScanner(ProspectorBot):
    """Listens, scans, stabilizes, mines gently, comes home early."""

    name = "cautious_scanner"
    posture = Posture(mine_mode=0, return_cargo=0.6, heat_limit=55.0, active_cooldown=False, min_hull=70.0,
                      wide_scan=True, focused_scan=True, stabilize=True, avoid_threat=True, listen=True,
                      buy_decoy=True, timed_selling=False, min_yield=0.08)


class MarketTimer(ProspectorBot):
    """Mines steadily and sells into price peaks, in halves."""

    name = "market_timer"
    posture = Posture(mine_mode=1, return_cargo=0.85, heat_limit=70.0, active_cooldown=False, min_hull=50.0,
                      wide_scan=True, focused_scan=False, stabilize=False, avoid_threat=False, listen=False,
                      buy_decoy=False, timed_selling=True, min_yield=0.1)


BOTS = {cls.name: cls for cls in (GreedyMiner, CautiousScanner, MarketTimer, RandomBot)}


def run_episode(bot: Bot, seed: int, config=None, max_steps: int | None = None) -> dict:
    """Play one episode on the C engine; returns its episode metrics."""
    from .engine import Engine
    from .rollout import run_episode as play

    return play(bot, Engine(config), seed, max_steps=max_steps)


# -- `prospector bots`: every bot on the same seeds ----------------------------

REPORT_FIELDS = ("net_profit", "survival", "destroyed", "stranded", "profit_per_tick", "overheat_ticks",
                 "pirate_encounters")


def _play(args) -> dict:
    name, seed, config = args
    return run_episode(BOTS[name](), seed, config)


def compare(episodes: int, seed0: int = 0, config=None, workers: int | None = None, progress=None) -> dict:
    """Runs each bot on seeds seed0 .. seed0+episodes-1; per-bot summary."""
    import multiprocessing as mp
    import os
    import statistics

    workers = workers or os.cpu_count() or 1
    summary = {}
    with mp.get_context("spawn").Pool(workers) as pool:
        for name in BOTS:
            jobs = [(name, seed0 + i, config) for i in range(episodes)]
            results = []
            for m in pool.imap(_play, jobs, chunksize=max(1, episodes // (8 * workers))):
                results.append(m)
                if progress:
                    progress(name, len(results), episodes)
            summary[name] = summarize(results)
    return summary


def summarize(results: list[dict]) -> dict:
    """One row of `prospector bots`: the episodes' means (and median net profit)."""
    import statistics

    profits = [r["net_profit"] for r in results]
    return {
        "episodes": len(results),
        "net_profit_mean": statistics.fmean(profits),
        "net_profit_median": statistics.median(profits),
        "loss_or_death_rate": statistics.fmean(
            1.0 if (r["net_profit"] < 0 or r["survival"] < 1) else 0.0 for r in results),
        **{f"{k}_mean": statistics.fmean(r[k] for r in results) for k in REPORT_FIELDS if k != "net_profit"},
    }


def extra_players() -> dict:
    """Players other parts bring (entry points `prospector.players`): name -> a function
    rows(episodes, seed0, config) -> {row name: summarize(...)}. prospector-common brings
    `pretrained` (the shipped model)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="prospector.players")}


def main(args) -> int:
    import json

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        tasks = {}

        def progress(name, done, total):
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        summary = compare(args.episodes, args.seed, workers=args.workers, progress=progress)
    if getattr(args, "with_pretrained", False):
        players = extra_players()
        if "pretrained" not in players:
            console.print("--with-pretrained needs the prospector-common part (the model's numpy forward pass), "
                          "which is not installed here: pip install -e services/common")
            return 2
        try:
            summary.update(players["pretrained"].load()(args.episodes, args.seed, None))
        except (OSError, ValueError, RuntimeError) as e:  # no model shipped, a damaged one: say which
            console.print(f"--with-pretrained: {e}")
            return 2
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    table = Table(title=f"Bots{' and the pretrained agent' if getattr(args, 'with_pretrained', False) else ''}, {args.episodes} episodes each (seeds {args.seed}..{args.seed + args.episodes - 1})")
    for col in ("bot", "net profit mean", "median", "survival", "destroyed", "stranded", "profit/tick",
                "overheat ticks", "pirate encounters", "lost or died"):
        table.add_column(col, justify="right")
    for name, s in summary.items():
        table.add_row(name, f"{s['net_profit_mean']:,.0f}", f"{s['net_profit_median']:,.0f}", f"{s['survival_mean']:.2f}",
                      f"{s['destroyed_mean']:.2f}", f"{s['stranded_mean']:.2f}", f"{s['profit_per_tick_mean']:.3f}",
                      f"{s['overheat_ticks_mean']:.0f}", f"{s['pirate_encounters_mean']:.2f}",
                      f"{s['loss_or_death_rate']:.2f}")
    Console(width=max(Console().width, 140)).print(table)
    return 0
