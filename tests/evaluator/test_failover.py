"""An evaluator killed with SIGKILL in the middle of a window: another one claims and finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import redis

from prospector_common.catalog import TAG_EVERY_WINDOW
from prospector_evaluator.evaluate import EvalOptions

from .conftest import REDIS_URL, announce, make_evaluator, make_run


def test_a_killed_consumers_window_is_claimed_by_another_and_evaluated_exactly_once(
        settings, catalog, streams, redis_client):
    # A policy that always HOLDs plays every tick: windows take long enough to be killed in.
    paths, messages = make_run(catalog, settings.data_dir, 3, time_max=3000, hold=True)
    for m in messages:
        announce(redis_client, streams.windows, m)
    env = {**os.environ, "PROSPECTOR_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url,
           "REDIS_URL": REDIS_URL, "WANDB_MODE": "disabled"}
    victim = subprocess.Popen(
        [sys.executable, "-m", "prospector_evaluator", "--consumer", "victim", "--episodes", "2",
         "--no-catch-up", "--grpc-port", "-1", "--metrics-port", "-1", "--block-ms", "100", "--quiet",
         "--windows-stream", streams.windows, "--dead-stream", streams.dead, "--replays-stream", streams.replays],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until the victim holds an entry (it is mid-window)
            try:
                rows = redis_client.xpending_range(streams.windows, streams.group, "-", "+", 10,
                                                   consumername="victim")
            except redis.ResponseError:  # NOGROUP: the victim has not created the group yet
                rows = []
            if rows:
                break
            assert victim.poll() is None, victim.stderr.read().decode()
            assert time.monotonic() < deadline, "the victim never took an entry"
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(10)
    held = rows[0]["message_id"]
    survivor = make_evaluator(settings, streams, catalog, catch_up=False, claim_idle_ms=500,
                              options=EvalOptions(episodes=2))
    try:
        survivor.run()  # exit_when_idle: returns once nothing is pending or new
    finally:
        survivor.close()
    every = catalog.list_replays(paths.run_id, tag=TAG_EVERY_WINDOW, limit=100).items
    assert sorted(r.window_id for r in every) == [0, 1, 2]  # each window exactly once
    assert len(catalog.list_replays(paths.run_id, limit=100).items) == 6
    assert redis_client.xpending(streams.windows, streams.group)["pending"] == 0
    assert redis_client.xrange(streams.dead) == []
    # the survivor evaluated the window the victim was holding
    assert held not in [r["message_id"] for r in
                        redis_client.xpending_range(streams.windows, streams.group, "-", "+", 10)]
    assert survivor.status["windows_done"] >= 1
