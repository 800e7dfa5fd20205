"""Sensing: scans blend the estimate toward a noisy, biased reading of the
truth; listening sharpens the neighbors' threat estimates (core_c/src/scan.c)."""

from __future__ import annotations

from typing import NamedTuple

from .engine import INV_255, clamp01, maxd, q255
from .state import N_COMMODITIES
from .tuning import (T_DEEP_BIAS, T_DEEP_CAP, T_DEEP_GAIN, T_DEEP_NOISE, T_DEEP_W, T_FOCUS_BIAS, T_FOCUS_CAP,
                     T_FOCUS_GAIN, T_FOCUS_NOISE, T_FOCUS_W, T_LISTEN_GAIN, T_LISTEN_NOISE, T_THREAT_HAZARD_W,
                     T_THREAT_PIRATE_W, T_WIDE_BIAS, T_WIDE_CAP, T_WIDE_GAIN, T_WIDE_NOISE, T_WIDE_W)
from .world import asteroid_ensure_truth


class ScanParams(NamedTuple):
    weight: float
    noise: float
    bias: float
    gain: float
    cap: float


def wide_params() -> ScanParams:
    return ScanParams(T_WIDE_W, T_WIDE_NOISE, T_WIDE_BIAS, T_WIDE_GAIN, T_WIDE_CAP)


def focused_params() -> ScanParams:
    return ScanParams(T_FOCUS_W, T_FOCUS_NOISE, T_FOCUS_BIAS, T_FOCUS_GAIN, T_FOCUS_CAP)


def deep_params() -> ScanParams:
    return ScanParams(T_DEEP_W, T_DEEP_NOISE, T_DEEP_BIAS, T_DEEP_GAIN, T_DEEP_CAP)


def scan_asteroid(e, node: int, slot: int, p: ScanParams) -> None:
    asteroid_ensure_truth(e, node, slot)
    a = e.asteroids[node][slot]
    noisy = e.config.scan_noise
    profile = float(a.noise) * INV_255
    amp = p.noise * (0.3 + profile)
    bias = p.bias * profile
    reading = [0.0] * N_COMMODITIES
    total = 0.0
    for c in range(N_COMMODITIES):
        truth = float(a.true_comp[c]) * INV_255
        x = truth
        if noisy:  # one triangular draw per commodity, only with scan noise on
            surface = 1.0 if c == a.surface else 0.0
            x = truth + bias * (surface - truth) + amp * e.rng.tri()
        reading[c] = maxd(0.0, x)
        total += reading[c]
    if total <= 0.0:
        total = 1.0
    for c in range(N_COMMODITIES):
        est = float(a.est_comp[c]) * INV_255
        a.est_comp[c] = q255((1.0 - p.weight) * est + p.weight * (reading[c] / total))
    stab = float(a.stability) * INV_255
    if noisy:
        stab = stab + amp * e.rng.tri()
    stab_est = float(a.stab_est) * INV_255
    a.stab_est = q255((1.0 - p.weight) * stab_est + p.weight * stab)
    conf = float(a.conf) * INV_255
    nxt = conf + p.gain
    if nxt > p.cap:
        nxt = conf if conf > p.cap else p.cap
    a.conf = q255(nxt)


def scan_wide(e) -> None:
    """Every asteroid slot of the current node, spent ones included."""
    node = e.current_node
    params = wide_params()
    for s in range(e.nodes[node].n_asteroids):
        scan_asteroid(e, node, s, params)
    e.events.scan_kind = 1


def scan_focused(e, deep: bool) -> None:
    scan_asteroid(e, e.current_node, e.selected, deep_params() if deep else focused_params())
    e.events.scan_kind = 3 if deep else 2


def threat_truth(e, n) -> float:
    t = 0.0
    if e.config.pirates:
        t += T_THREAT_PIRATE_W * (float(n.pirate) * INV_255)
    if e.config.hazards:
        t += T_THREAT_HAZARD_W * (float(n.hazard) * INV_255)
    return clamp01(t)


def scan_listen(e) -> None:
    here = e.nodes[e.current_node]
    for k in range(here.degree):
        n = e.nodes[here.neighbor[k]]
        est = float(n.threat_est) * INV_255
        reading = threat_truth(e, n) + T_LISTEN_NOISE * e.rng.tri()
        n.threat_est = q255(est + T_LISTEN_GAIN * (reading - est))
