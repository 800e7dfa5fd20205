"""Measure the web page: bundle size, time to first frame, and 60 fps playback of a
20000-tick replay (frame rate and memory). `make bench-web`; prints a JSON summary.

The data is real: a short training run (the tiny config), then the real evaluator
records 20000-tick episodes of its last window; the real API serves them and the
built page (services/web/dist) to Debian's headless Chromium.

    .venv/bin/python services/web/scripts/measure.py [--runs 5] [--seconds 60] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/web/conftest.py imports live_server from there, as under pytest

from tests.web.conftest import CHROMIUM, DIST, REDIS_URL, Belt, LiveServer, make_app  # noqa: E402

TICKS = 20_000

# Records, in the page, when the first real frame (index >= 0) is on screen.
FIRST_FRAME_PROBE = """
new MutationObserver((_, observer) => {
  const el = document.querySelector('[data-testid=frame-index]');
  if (el && Number(el.dataset.frameIndex) >= 0 && window.__firstFrame === undefined) {
    requestAnimationFrame(() => { window.__firstFrame = performance.now(); });
    observer.disconnect();
  }
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def bundle_sizes(dist: Path) -> dict:
    files = [p for p in dist.rglob("*") if p.is_file()]
    out = {"files": {}, "total_bytes": 0, "total_gzip_bytes": 0}
    for p in sorted(files):
        raw = p.read_bytes()
        gz = len(gzip.compress(raw, compresslevel=9))
        out["files"][str(p.relative_to(dist))] = {"bytes": len(raw), "gzip_bytes": gz}
        out["total_bytes"] += len(raw)
        out["total_gzip_bytes"] += gz
    out["js_gzip_bytes"] = sum(v["gzip_bytes"] for k, v in out["files"].items() if k.endswith(".js"))
    return out


def record_long_replays(data_dir: Path) -> tuple[Belt, dict]:
    """A tiny training run, then the evaluator: 20000-tick episodes of its last window."""
    import redis
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_run_id
    from prospector_common.settings import Settings
    from prospector_evaluator.evaluate import EvalOptions
    from prospector_evaluator.service import Evaluator, ServiceConfig
    from prospector_trainer.config import load_config
    from prospector_trainer.service import ServiceOptions, TrainerService

    tag = f"bench:web:{uuid.uuid4().hex[:10]}"
    belt = Belt(data_dir, new_run_id(git_sha="nogit"), f"{tag}:windows", f"{tag}:replays", f"{tag}:dead", tag)
    settings = Settings(data_dir=data_dir, redis_url=REDIS_URL, wandb_mode="disabled")
    cfg = load_config("tiny", ["env.time_max=48", "policy.action_masking=true", "policy.forbid_cash_out=true",
                               "policy.forbid_jettison=true"])
    cfg.run.data_dir = str(data_dir)
    TrainerService(cfg, ServiceOptions(grpc_port=None, metrics_port=None, wandb=False,
                                       database_url=settings.database_url, redis_url=REDIS_URL,
                                       stream=f"{tag}:all")).train(run_id=belt.run_id)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.xadd(belt.windows_stream, client.xrange(f"{tag}:all")[-1][1])  # the last window only
    config = ServiceConfig(consumer_name="bench-web", windows_stream=belt.windows_stream,
                           dead_stream=belt.dead_stream, replays_stream=belt.replays_stream,
                           options=EvalOptions(episodes=3, env_overrides={"time_max": TICKS}),
                           block_ms=100, exit_when_idle=True, wandb=False, progress=False, catch_up=False)
    with Catalog(settings.database_url) as catalog:
        evaluator = Evaluator(settings, config, catalog=catalog)
        try:
            evaluator.run()
        finally:
            evaluator.close()
        replays = catalog.list_replays(belt.run_id, limit=100).items
    for key in client.scan_iter(f"{tag}:*"):
        client.delete(key)
    client.close()
    longest = max(replays, key=lambda r: r.length)
    from prospector_common.replay import read_header

    header = read_header(data_dir / longest.path)
    ticks = header["summary"].get("ticks") or header["summary"]["metrics"]["episode_length"]
    return belt, {"replay_id": longest.replay_id, "frames": longest.length, "ticks": int(ticks),
                  "full_length": bool(header["summary"].get("truncated"))}


def first_frame_ms(browser, url: str) -> float:
    context = browser.new_context(viewport={"width": 1366, "height": 860})  # a cold cache every time
    page = context.new_page()
    page.add_init_script(FIRST_FRAME_PROBE)
    page.goto(url)
    page.wait_for_function("() => window.__firstFrame !== undefined", timeout=60_000)
    ms = page.evaluate("() => window.__firstFrame")
    context.close()
    return float(ms)


def heap(cdp) -> dict:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"js_heap_used_bytes": int(metrics["JSHeapUsedSize"]), "dom_nodes": int(metrics["Nodes"]),
            "listeners": int(metrics["JSEventListeners"])}


def playback(browser, url: str, seconds: float) -> dict:
    """Play at 60 fps from the start for `seconds`: replay frames per second, canvas
    redraws per second (rAF), and the heap after GC before and after."""
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(url)
    page.wait_for_function("() => Number(document.querySelector('[data-testid=frame-index]')?.dataset.frameIndex) >= 0",
                           timeout=60_000)
    # wait for the background pass over every page (the timeline) to finish, then start over at 60 fps
    page.wait_for_function("() => !document.querySelector('[data-testid=frame-index]').textContent.includes('timeline')",
                           timeout=300_000)
    page.keyboard.press("k")  # pause
    page.locator("select").filter(has=page.locator("option[value='240']")).select_option("60")
    page.keyboard.press("Home")
    before = heap(cdp)
    page.evaluate("""() => {
        window.__raf = 0;
        const count = () => { window.__raf++; requestAnimationFrame(count); };
        requestAnimationFrame(count);
    }""")
    def mark() -> tuple[float, int, int]:
        """(now, the frame shown, animation frames so far)."""
        return (time.monotonic(), int(page.get_by_test_id("frame-index").get_attribute("data-frame-index")),
                int(page.evaluate("() => window.__raf")))

    page.keyboard.press("k")  # play
    t0 = time.monotonic()
    samples = []  # every 15 s: frames and redraws per second since the last sample, then heap and DOM after GC
    last = mark()
    while time.monotonic() - t0 < seconds:
        page.wait_for_timeout(15_000)
        now = mark()
        span = now[0] - last[0]
        samples.append({"s": round(now[0] - t0, 1), "frame": now[1], "replay_fps": (now[1] - last[1]) / span,
                        "redraw_fps": (now[2] - last[2]) / span, **heap(cdp)})
        last = mark()  # the forced GC is not counted against playback
    elapsed = time.monotonic() - t0
    after = samples[-1]
    warm = samples[0]  # the page cache is full by then: later growth would be a leak
    context.close()
    return {"seconds": round(elapsed, 1), "replay_fps": statistics.median(x["replay_fps"] for x in samples),
            "redraw_fps": statistics.median(x["redraw_fps"] for x in samples), "frames_played": after["frame"],
            "heap_before": before, "heap_after": after,
            "heap_growth_bytes": after["js_heap_used_bytes"] - before["js_heap_used_bytes"],
            "heap_growth_after_warmup_bytes": after["js_heap_used_bytes"] - warm["js_heap_used_bytes"],
            "samples": samples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="time-to-first-frame runs (median reported)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the 60 fps playback run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    result = {"bundle": bundle_sizes(DIST)}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "runs"
        data.mkdir()
        t = time.perf_counter()
        belt, replay = record_long_replays(data)
        result["replay"] = {**replay, "recorded_in_s": round(time.perf_counter() - t, 1)}
        with LiveServer(make_app(belt, DIST)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            url = f"{server.url}/?run={belt.run_id}&replay={replay['replay_id']}"
            first = [first_frame_ms(browser, url) for _ in range(args.runs)]
            result["first_frame_ms"] = {"median": statistics.median(first), "runs": [round(x) for x in first]}
            result["playback_60fps"] = playback(browser, url, args.seconds)
            browser.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        b, r, f, pb = result["bundle"], result["replay"], result["first_frame_ms"], result["playback_60fps"]
        print(f"bundle: {b['total_gzip_bytes'] / 1024:.1f} KiB gzip in total ({b['js_gzip_bytes'] / 1024:.1f} KiB of JS), "
              f"{b['total_bytes'] / 1024:.1f} KiB raw")
        print(f"replay: {r['frames']} frames, {r['ticks']} ticks (full length: {r['full_length']})")
        print(f"time to first frame: median {f['median']:.0f} ms over {len(f['runs'])} cold loads {f['runs']}")
        print(f"playback at 60 fps for {pb['seconds']} s ({pb['frames_played']} frames): median over 15 s spans "
              f"{pb['replay_fps']:.1f} replay frames/s, {pb['redraw_fps']:.1f} redraws/s")
        print(f"JS heap after GC: {pb['heap_before']['js_heap_used_bytes'] / 2**20:.2f} MiB before playing, "
              f"{pb['heap_after']['js_heap_used_bytes'] / 2**20:.2f} MiB at the end; from the first sample "
              f"(page cache full) to the end: {pb['heap_growth_after_warmup_bytes'] / 2**20:+.2f} MiB")
        print("samples (s, frame, frames/s, redraws/s, heap MiB, DOM nodes): " + ", ".join(
            f"({s['s']}, {s['frame']}, {s['replay_fps']:.1f}, {s['redraw_fps']:.1f}, "
            f"{s['js_heap_used_bytes'] / 2**20:.2f}, {s['dom_nodes']})" for s in pb["samples"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
