"""Measure the web page: bundle size, time to first frame, and 60 fps playback of a
20000-tick replay (frame rate and memory). `make bench-web`; prints a JSON summary.

The data is real. The replay is a true 20000-tick episode with the policy's choice
(top actions, value, entropy) in every frame, flown by:

- the shipped pretrained model (models/ppo-pretrained/policy.npz, issue 16) when it
  is there, or the policy file given with --model: greedy, in the full game, on seeds
  0, 1, 2, ... until an episode lasts all 20000 ticks, recorded as the evaluator
  records (replay schema 2) and cataloged as a run of one window;
- otherwise a short training run (the tiny config), whose last window the real
  evaluator plays on seeds 0, 1, 2, ... until an episode lasts all 20000 ticks (most
  end earlier, destroyed or stranded).

The real API serves that replay with the built page (services/web/dist) to Debian's
headless Chromium.

    .venv/bin/python services/web/scripts/measure.py [--runs 5] [--seconds 60] [--model FILE | --train] [--json]
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
PRETRAINED = ROOT / "models" / "ppo-pretrained" / "policy.npz"  # issue 16's shipped model, when it is there
SEEDS_PER_BATCH = 8  # episodes the evaluator plays at a time, looking for one that lasts TICKS
SEED_BATCHES = 8

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
    """A tiny training run, then the real evaluator plays its last window's checkpoint
    (greedy, as the evaluator does by default) on seeds 0, 1, 2, ... in batches until one
    episode lasts the whole TICKS ticks (time up, not destroyed or stranded). That replay is
    the one measured: a true 20000-tick episode, every frame carrying the policy's choice."""
    import redis
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_run_id
    from prospector_common.replay import iter_frames, read_header
    from prospector_common.settings import Settings
    from prospector_evaluator.evaluate import EvalContext, EvalOptions, evaluate_window
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
    window_id = int(client.xrange(f"{tag}:all")[-1][1]["window_id"])
    for key in client.scan_iter(f"{tag}:*"):
        client.delete(key)
    client.close()
    tried: list[tuple[int, int, str]] = []  # (seed, ticks, how it ended) of every episode played
    with Catalog(settings.database_url) as catalog:
        ctx = EvalContext(data_dir=data_dir, catalog=catalog)
        for batch in range(SEED_BATCHES):
            options = EvalOptions(episodes=SEEDS_PER_BATCH, first_seed=batch * SEEDS_PER_BATCH, force=batch > 0,
                                  env_overrides={"time_max": TICKS})
            for record in evaluate_window(ctx, belt.run_id, window_id, options).replays:
                header = read_header(data_dir / record.path)
                summary = header["summary"]
                ticks = int(summary["metrics"]["episode_length"])
                ended = "time up" if summary["truncated"] else "destroyed" if summary["metrics"]["destroyed"] else \
                    "stranded" if summary["metrics"]["stranded"] else "terminated"
                tried.append((record.seed, ticks, ended))
                if summary["truncated"] and ticks >= TICKS:
                    with_policy = sum(1 for frame in iter_frames(data_dir / record.path) if frame.get("policy"))
                    if with_policy != record.length:
                        raise RuntimeError(f"replay {record.replay_id}: {with_policy} of {record.length} frames "
                                           "carry the policy's choice")
                    return belt, {"replay_id": record.replay_id, "frames": record.length, "ticks": ticks,
                                  "seed": record.seed, "ended": ended, "frames_with_policy": with_policy,
                                  "schema_version": header.get("schema_version"), "seeds_tried": tried}
    raise RuntimeError(f"no episode of the last window lasted {TICKS} ticks on seeds 0..{len(tried) - 1}: {tried}")


def record_with_model(data_dir: Path, model: Path) -> tuple[Belt, dict]:
    """A numpy policy file (the API's pretrained model) flies the full game greedily on seeds
    0, 1, 2, ... until an episode lasts TICKS ticks; that episode is recorded the evaluator's
    way (every frame with the policy's top actions, value and entropy) and cataloged."""
    from prospector import spec
    from prospector.engine import Engine
    from prospector.spec import EnvConfig
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_replay_id, new_run_id
    from prospector_common.policy.serving import NumpyPolicy, explain
    from prospector_common.replay import Recorder, write_replay
    from prospector_common.settings import Settings
    from prospector_common.storage import RunPaths

    policy = NumpyPolicy.load(model)
    config = EnvConfig().replace(time_max=TICKS, reward_mode="sparse")
    tried: list[tuple[int, int, str]] = []
    for seed in range(SEEDS_PER_BATCH * SEED_BATCHES):
        engine = Engine(config, seed=seed)
        recorder = Recorder(engine.render_state())
        state = policy.initial_state()
        while not engine.done:
            logits, value, state = policy.forward(engine.observation(), engine.action_mask(), state)
            choice = explain(logits[0], float(value[0]))
            reward, _, _ = engine.step(choice.argmax)
            recorder.add(choice.argmax, reward, engine.events(), engine.render_state(),
                         policy={"top": [[a, round(p, 4)] for a, p in choice.top],
                                 "value": float(format(choice.value, ".4g")), "entropy": round(choice.entropy, 4)})
        metrics = engine.metrics()
        ticks = int(metrics["episode_length"])
        ended = "time up" if engine.truncated else "destroyed" if metrics["destroyed"] else \
            "stranded" if metrics["stranded"] else "terminated"
        tried.append((seed, ticks, ended))
        if engine.truncated and ticks >= TICKS:
            break
    else:
        raise RuntimeError(f"the model {model} flew no episode of {TICKS} ticks on seeds 0..{len(tried) - 1}: {tried}")
    run_id = new_run_id(git_sha="nogit")
    tag = f"bench:web:{uuid.uuid4().hex[:10]}"
    belt = Belt(data_dir, run_id, f"{tag}:windows", f"{tag}:replays", f"{tag}:dead", tag)
    paths = RunPaths(data_dir, run_id)
    paths.make_dirs()
    replay_id = new_replay_id(0, seed, key=f"bench-web:{policy.name}")
    path = paths.replay(replay_id)
    summary = {"metrics": metrics, "return": metrics["episode_return"], "net_profit": metrics["net_profit"],
               "survival": metrics["survival"] >= 1.0, "terminated": engine.terminated, "truncated": engine.truncated,
               "length": len(recorder), "ticks": TICKS}
    write_replay(path, recorder.to_bytes(
        run_id=run_id, window_id=0, replay_id=replay_id, seed=seed, env_config=config.to_dict(),
        policy={"mode": "greedy", "model": policy.name, "action_masking": policy.action_masking}, summary=summary))
    with Catalog(Settings(data_dir=data_dir).database_url) as catalog:
        catalog.create_all()
        catalog.upsert_run(run_id, config={"model": policy.name}, spec_version=spec.SPEC_VERSION, git_sha="nogit")
        catalog.add_window(run_id, 0, env_steps_total=0, checkpoint_path="none", metrics={})
        catalog.add_replay(replay_id=replay_id, run_id=run_id, window_id=0, seed=seed,
                           return_=metrics["episode_return"], net_profit=metrics["net_profit"],
                           survival=metrics["survival"] >= 1.0, length=len(recorder), tags=["every_window"],
                           path=paths.relative(path))
    return belt, {"replay_id": replay_id, "frames": len(recorder), "ticks": ticks, "seed": seed, "ended": ended,
                  "frames_with_policy": len(recorder), "schema_version": 2, "seeds_tried": tried,
                  "policy": f"pretrained model {policy.name!r} ({model})"}


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
    page.get_by_test_id("policy-panel").wait_for(timeout=10_000)  # measured with the policy panel on
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
    parser.add_argument("--model", type=Path, default=PRETRAINED if PRETRAINED.is_file() else None,
                        help="a numpy policy file to fly the replay (default: the shipped pretrained model, when present)")
    parser.add_argument("--train", action="store_true", help="fly it with a tiny training run's last window instead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    result = {"bundle": bundle_sizes(DIST)}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "runs"
        data.mkdir()
        t = time.perf_counter()
        if args.model is not None and not args.train:
            belt, replay = record_with_model(data, args.model)
        else:
            belt, replay = record_long_replays(data)
            replay["policy"] = "the last window of a tiny training run, played by the evaluator (greedy)"
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
        print(f"replay flown by {r['policy']}: seed {r['seed']}, {r['frames']} frames, {r['ticks']} ticks ({r['ended']}), "
              f"{r['frames_with_policy']} frames with the policy's choice (schema {r['schema_version']}); "
              f"seeds tried (seed, ticks, end): {r['seeds_tried']}")
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
