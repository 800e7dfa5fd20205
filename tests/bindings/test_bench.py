"""`prospector bench env --json --quick`: every figure is there and positive.

No timing thresholds here: the targets are the benchmark's business (it
prints them with pass/fail marks and never fails because of them).
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("c_core_sps", "cffi_batched_sps", "cffi_threaded_sps", "gym_vector_sps", "vector_mp_sps",
           "gym_single_sps", "reference_sps")
WORKLOADS = ("random", "long")


def _command() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "prospector"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "prospector.cli"]


@pytest.fixture(scope="module")
def bench_json() -> dict:
    proc = subprocess.run([*_command(), "bench", "env", "--json", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)  # stdout is exactly one JSON object


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def test_every_figure_is_positive_for_both_workloads(bench_json):
    for f in FIGURES:
        assert set(bench_json[f]) == set(WORKLOADS), f
        for w in WORKLOADS:
            assert _positive(bench_json[f][w]), (f, w, bench_json[f][w], bench_json.get("notes"))


def test_runs_back_the_medians(bench_json):
    runs = bench_json["runs"]
    for f in FIGURES:
        for w in WORKLOADS:
            xs = runs[f][w]
            assert xs and all(_positive(x) for x in xs), (f, w)
            assert min(xs) <= bench_json[f][w] <= max(xs), (f, w)
    repeats = bench_json["sizes"]["repeats"]
    for f in ("c_core_sps", "cffi_batched_sps", "cffi_threaded_sps", "gym_vector_sps"):
        for w in WORKLOADS:
            assert len(runs[f][w]) == repeats


def test_state_size_ratios_memory_machine(bench_json):
    assert isinstance(bench_json["state_bytes"], int) and bench_json["state_bytes"] > 0
    ratios = bench_json["ratios"]
    for name in ("cffi_batched_over_c_core", "cffi_threaded_over_cffi_batched", "gym_vector_over_cffi_batched"):
        for w in WORKLOADS:
            assert _positive(ratios[name][w]), (name, w)
    c, b, t = (bench_json[k] for k in ("c_core_sps", "cffi_batched_sps", "cffi_threaded_sps"))
    for w in WORKLOADS:
        assert ratios["cffi_batched_over_c_core"][w] == pytest.approx(b[w] / c[w])
        assert ratios["cffi_threaded_over_cffi_batched"][w] == pytest.approx(t[w] / b[w])
    mem = bench_json["memory"]
    assert _positive(mem["rss_before"]) and _positive(mem["rss_after"])
    assert isinstance(mem["rss_growth"], int)
    machine = bench_json["machine"]
    assert isinstance(machine["cores"], int) and machine["cores"] >= 1
    assert isinstance(machine["cpu_model"], str) and machine["cpu_model"]
    for t in bench_json["targets"]:
        assert t["pass"] in (True, False), t  # reported, with a mark, never fatal
