"""examples/: each runs to the end for a few thousand steps and reports a number."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_example(name: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--json", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert "mean_episode_return" in lines[-2]
    return json.loads(lines[-1])


def test_sb3_maskable_ppo():
    pytest.importorskip("sb3_contrib")  # requirements-dev.txt
    out = run_example("sb3_maskable_ppo.py", "--total-steps", "2048", "--time-max", "300", "--eval-episodes", "2")
    assert out["total_steps"] == 2048 and len(out["returns"]) == 2
    assert math.isfinite(out["mean_episode_return"])


def test_cleanrl_ppo():
    out = run_example("cleanrl_ppo.py", "--total-steps", "4096", "--num-envs", "16", "--num-steps", "64",
                      "--time-max", "200")
    assert out["total_steps"] == 4096 and out["episodes"] > 0
    assert math.isfinite(out["mean_episode_return"])
