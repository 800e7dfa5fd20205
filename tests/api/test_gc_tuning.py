"""The API process's garbage collector is tuned once it is built (server.tune_gc): the heap of
start-up frozen out of later collections, young collections rarer than Python's default."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from prospector_api.app import create_app
from prospector_api.server import GC_THRESHOLDS, tune_gc

default = gc.get_threshold()
app = create_app()
tune_gc()
frozen = gc.get_freeze_count()
print(default[0], gc.get_threshold() == GC_THRESHOLDS, GC_THRESHOLDS[0], frozen)
"""


def test_tune_gc_freezes_the_built_app_and_raises_the_young_threshold():
    # in a subprocess: the test process's own collector stays as pytest set it
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    default_gen0, applied, tuned_gen0, frozen = out.stdout.split()
    assert applied == "True"
    assert int(tuned_gen0) >= 10 * int(default_gen0)  # young collections at least 10x rarer
    assert int(frozen) > 100_000  # the app, its routes and schemas: out of every later collection
