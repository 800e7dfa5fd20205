"""End to end: `prospector up` with a small trainer config, as a person would use it.

Three windows trained, evaluated and served: their every_window replays are
listed by the API and re-simulate exactly (`prospector replay verify`); a gRPC
play session steps; the page loads in headless Chromium and plays the newest
replay; every service's /metrics answers; `prospector status` sees them all;
and Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

from .conftest import PROSPECTOR, RunningStack, get_json, pid_alive, processes_with_marker

CHROMIUM = Path("/usr/bin/chromium")
# Where the page's screenshot goes: the test's tmp dir, or the path this variable names
# (to look at what the test saw).
SCREENSHOT_VAR = "PROSPECTOR_E2E_SCREENSHOT"


def check_replays_listed_and_verified(stack: RunningStack) -> list[dict]:
    replays = stack.wait_for(lambda: (r := stack.replays()) and len({x["window_id"] for x in r}) >= 3 and r,
                             240, "every_window replays of 3 windows")
    by_window = {}
    for replay in replays:
        by_window.setdefault(replay["window_id"], []).append(replay)
    assert all(len(v) == 1 for v in by_window.values()), f"a window with two every_window replays: {by_window}"
    first_three = [by_window[w][0] for w in sorted(by_window)[:3]]
    assert [r["window_id"] for r in first_three] == [0, 1, 2]
    for replay in first_three:
        path = stack.data_dir / replay["run_id"] / "replays" / f"{replay['replay_id']}.jsonl.gz"
        verify = subprocess.run([PROSPECTOR, "replay", "verify", str(path), "--json"], capture_output=True,
                                text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        result = json.loads(verify.stdout)
        assert result["ok"] and result["frames_checked"] == replay["length"] > 1
    return first_three


def check_grpc_play(stack: RunningStack) -> None:
    from prospector_rpc.pb import pb2, pb2_grpc

    with grpc.insecure_channel(stack.grpc_address) as channel:
        play = pb2_grpc.PlayServiceStub(channel)
        session = play.CreateSession(pb2.CreateSessionRequest(seed=11), timeout=10)
        ticks = []
        for _ in range(5):
            step = play.Step(pb2.StepRequest(session_id=session.session_id, action=6), timeout=10)  # HOLD_DRIFT
            ticks.append(step.t)
        assert ticks == list(range(ticks[0], ticks[0] + 5)) and ticks[0] >= 1
        play.CloseSession(pb2.CloseSessionRequest(session_id=session.session_id), timeout=10)


def check_metrics(stack: RunningStack) -> None:
    p = stack.ports
    urls = {
        "trainer": f"http://127.0.0.1:{p['PROSPECTOR_TRAINER_METRICS_PORT']}/metrics",
        "evaluator": f"http://127.0.0.1:{p['PROSPECTOR_EVALUATOR_METRICS_PORT']}/metrics",
        "api": f"{stack.http}/metrics",
    }
    expected = {"trainer": "prospector_trainer_sps", "evaluator": "prospector_evaluator_queue_lag",
                "api": "prospector_api_active_sessions"}
    for name, url in urls.items():
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            assert response.status == 200
            assert expected[name] in response.read().decode(), f"{name} /metrics lacks {expected[name]}"


def check_status(stack: RunningStack) -> None:
    """`prospector status --json` finds the running stack through the data root."""
    def healthy_rows():
        out = subprocess.run([PROSPECTOR, "status", "--json"], capture_output=True, text=True, timeout=60,
                             env=stack.env)
        rows = {row["service"]: row for row in json.loads(out.stdout)}
        return rows if out.returncode == 0 else None

    rows = stack.wait_for(healthy_rows, 60, "prospector status: every service healthy", every=2)
    assert set(rows) == {"redis", "trainer", "evaluator", "api"}
    assert rows["trainer"]["details"]["windows_done"] >= 3 and rows["trainer"]["details"]["sps"] > 0
    assert rows["evaluator"]["details"]["queue_lag"] >= 0 and rows["evaluator"]["details"]["windows_done"] >= 1
    assert rows["api"]["details"]["sessions"] >= 0 and rows["api"]["details"]["ready"] is True


def check_page_plays_newest_replay(stack: RunningStack, newest_window_seen: int, screenshot: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(stack.http + "/", wait_until="load", timeout=60_000)
            replay_id = page.get_by_test_id("replay-id")
            replay_id.wait_for(timeout=60_000)
            tick = page.get_by_test_id("replay-tick")
            # The page follows the newest replay, so it may switch to a new window's replay
            # while we watch: the ticks are taken per replay shown.
            seen: dict[str, list[int]] = {}
            advancing = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and advancing is None:
                shown, text = replay_id.inner_text().strip(), tick.inner_text(timeout=10_000).strip()
                if text.isdigit():
                    ticks = seen.setdefault(shown, [])
                    if not ticks or ticks[-1] != int(text):
                        ticks.append(int(text))
                    if len(ticks) >= 3 and ticks[-3] < ticks[-2] < ticks[-1]:  # three frames, forward
                        advancing = shown
                time.sleep(0.2)
            assert advancing is not None, f"no replay's tick advanced on the page: {seen}"
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    # The newest replay when the page loaded: its window is at least the newest one listed before.
    replays = {r["replay_id"]: r for r in stack.replays()}
    assert advancing in replays, f"the page played {advancing!r}, not an every_window replay of the newest run"
    assert replays[advancing]["window_id"] >= newest_window_seen


def check_interrupt_leaves_nothing(stack: RunningStack) -> None:
    info = stack.info()
    pids = [c["pid"] for c in info["children"].values()]
    code = stack.interrupt()
    assert code == 0, stack.log()[-4000:]
    assert not [pid for pid in pids if pid_alive(pid)], "a service outlived Ctrl-C"
    assert processes_with_marker(info["stack_id"]) == [], "a process of the stack outlived Ctrl-C"
    assert not (stack.data_dir / "stack.json").exists()
    assert "every process it started has exited" in stack.log()


@pytest.mark.stack
def test_local_stack_end_to_end(start_stack, tmp_path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make setup` installs it")
    stack = start_stack("e2e.toml")
    first_three = check_replays_listed_and_verified(stack)
    assert len({r["run_id"] for r in first_three}) == 1
    check_metrics(stack)
    check_grpc_play(stack)
    check_status(stack)
    newest = max(r["window_id"] for r in stack.replays())
    screenshot = Path(os.environ.get(SCREENSHOT_VAR) or tmp_path / "page.png").resolve()
    check_page_plays_newest_replay(stack, newest, screenshot)
    assert screenshot.stat().st_size > 10_000
    check_interrupt_leaves_nothing(stack)
