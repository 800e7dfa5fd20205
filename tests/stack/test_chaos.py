"""The fault run (`make chaos`; also part of `make test`): the local stack keeps its promises
while its parts die.

With a play session open over gRPC and the trainer producing 8 windows:
    1. the evaluator is killed (SIGKILL) and the launcher restarts it; the window
       it held is claimed by its successor,
    2. Redis is restarted (the append-only file keeps streams, group and sessions),
    3. the API is killed in the middle of the play session and restarted.
At the end every window has its every_window replay exactly once (catalog,
files and the replays stream alike) and the play session went on from the
tick where it was.
"""

from __future__ import annotations

import collections
import os
import signal
import time

import grpc
import pytest
import redis

from .conftest import RunningStack, get_json, pid_alive

WINDOWS = 8          # chaos.toml: total_env_steps / window_env_steps
EPISODES = 3         # the evaluator's default episodes per window
HOLD_DRIFT = 6


class PlaySession:
    """A gRPC play session that rides out the API's absence: each step is retried until it lands."""

    def __init__(self, address: str) -> None:
        from prospector_rpc.pb import pb2, pb2_grpc

        self.pb2 = pb2
        self.channel = grpc.insecure_channel(address)
        self.stub = pb2_grpc.PlayServiceStub(self.channel)
        self.session_id = self.stub.CreateSession(pb2.CreateSessionRequest(seed=5), timeout=10).session_id
        self.ticks: list[int] = []
        self.retries = 0

    def step(self, deadline_s: float = 90.0) -> int:
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                t = self.stub.Step(self.pb2.StepRequest(session_id=self.session_id, action=HOLD_DRIFT), timeout=5).t
                self.ticks.append(t)
                return t
            except grpc.RpcError as exc:
                # UNAVAILABLE: the API (or Redis behind it) is down for the moment. Anything else is a bug.
                if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) \
                        or time.monotonic() > deadline:
                    raise
                self.retries += 1
                time.sleep(0.5)

    def close(self) -> None:
        self.channel.close()


def kill(pid: int, sig: int) -> None:
    os.killpg(pid, sig)  # each service is its own process group


def wait_restarted(stack: RunningStack, service: str, old_pid: int, timeout: float = 120) -> int:
    """The launcher has started a new process for service and it reports healthy."""
    def new_and_healthy():
        child = stack.info()["children"][service]
        return child["pid"] != old_pid and child["state"] == "healthy" and child["pid"]

    return stack.wait_for(new_and_healthy, timeout, f"{service} restarted and healthy")


@pytest.mark.stack
@pytest.mark.chaos
def test_faults_lose_no_window_and_no_session(start_stack) -> None:
    stack = start_stack("chaos.toml", extra_env={"PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS": "3000"})
    stack.wait_for(lambda: stack.replays(), 180, "the first replay")
    play = PlaySession(stack.grpc_address)
    try:
        for _ in range(3):
            play.step()

        # 1. The evaluator dies mid-flight (SIGKILL: no goodbye, its entry stays pending).
        evaluator = stack.pid("evaluator")
        kill(evaluator, signal.SIGKILL)
        wait_restarted(stack, "evaluator", evaluator)
        play.step()

        # 2. Redis restarts; trainer and evaluator wait for it, the session survives in its file.
        redis_pid = stack.pid("redis")
        kill(redis_pid, signal.SIGTERM)
        wait_restarted(stack, "redis", redis_pid)
        play.step()

        # 3. The API dies during the session; the next step waits for its successor.
        api = stack.pid("api")
        kill(api, signal.SIGKILL)
        before = play.ticks[-1]
        after = play.step()
        assert stack.pid("api") != api
        assert after == before + 1, f"the session did not continue: tick {before} then {after}"
        for _ in range(3):
            play.step()
        assert play.ticks == list(range(play.ticks[0], play.ticks[0] + len(play.ticks))), play.ticks
        assert play.retries > 0, "the API was never seen down: the restart was not during the session"
    finally:
        play.close()

    # The trainer finishes its 8 windows; the evaluators catch up with all of them.
    def all_windows_done():
        child = stack.info()["children"]["trainer"]
        replays = stack.replays()
        return child["state"] == "exited" and len({r["window_id"] for r in replays}) >= WINDOWS and replays

    replays = stack.wait_for(all_windows_done, 300, f"every_window replays of all {WINDOWS} windows", every=1)
    run_id = replays[0]["run_id"]
    per_window = collections.Counter(r["window_id"] for r in replays)
    assert per_window == {w: 1 for w in range(WINDOWS)}, f"every_window replays per window: {per_window}"

    # Exactly once on disk and on the stream too, not just in the catalog.
    files = sorted(p.name for p in (stack.data_dir / run_id / "replays").glob("*.jsonl.gz"))
    all_replays = get_json(f"{stack.http}/api/runs/{run_id}/replays?limit=500")["items"]
    assert len(files) == len(all_replays) == WINDOWS * EPISODES, (files, len(all_replays))
    client = redis.Redis.from_url(stack.info()["redis_url"], decode_responses=True)
    try:
        announced = collections.Counter(fields["replay_id"] for _, fields in client.xrange("prospector:replays"))
        windows = [int(fields["window_id"]) for _, fields in client.xrange("prospector:windows")]
        pending = client.xpending("prospector:windows", "evaluators")["pending"]
    finally:
        client.close()
    assert announced == {r["replay_id"]: 1 for r in all_replays}, "a replay announced twice, or never"
    assert sorted(windows) == list(range(WINDOWS)), f"windows on the stream: {windows}"
    assert pending == 0

    info = stack.info()
    restarts = {name: c["restarts"] for name, c in info["children"].items()}
    assert restarts == {"redis": 1, "trainer": 0, "evaluator": 1, "api": 1}, restarts
    assert stack.interrupt() == 0
    assert not [c["pid"] for c in info["children"].values() if c["pid"] and pid_alive(c["pid"])]
