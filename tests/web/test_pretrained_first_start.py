"""The page on a stack's first start (issue 16): the pretrained agent, registered as a run of its
own with replays the evaluator recorded, is what `/` plays at once, labelled as such, while a
fresh run trains beside it; one click switches to the fresh run's latest replay once it has one.

Nothing is mocked. The model package is built (write_package, as `bench learn --ship` does) from
the belt's real window-2 checkpoint; register_pretrained makes it a finished run of a new data
dir and catalog and announces its window on a private stream; the real evaluator plays it. The
fresh run is a real tiny training run of the trainer service in the same catalog, after the
pretrained one (as `prospector train --pretrained register` orders them), set back to
"running" (its state while it trains, which the catalog records at its start) so that the page
sees it still training; its windows are held back until the test announces one. The API serves
the package's policy.npz, as the stack serves models/ppo-pretrained, so /api/meta names its run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from .conftest import REDIS_URL, Belt, LiveServer, PageProblems, evaluate, make_app, screenshot
from .test_pages import api_get, no_console_errors, wait_for_tick_above
from .test_replays_in_depth import DESKTOP, PHONE

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@dataclass(frozen=True)
class FirstStart:
    server: LiveServer
    stack: Belt  # the new data dir and its private streams; run_id: the pretrained run
    fresh_run_id: str
    fresh_windows: str  # the fresh run's window announcements, held back


@pytest.fixture(scope="module")
def first_start(belt, web_dist, tmp_path_factory):
    from prospector_bench.train import bench_learn, training_of_checkpoint
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_run_id
    from prospector_common.policy.pretrained import MODEL_NAME, write_package
    from prospector_common.settings import Settings
    from prospector_trainer.config import load_config
    from prospector_trainer.pretrained_run import register_pretrained
    from prospector_trainer.service import ServiceOptions, TrainerService

    # the model package, from the belt's real checkpoint (evaluated on its own short training game)
    checkpoint = belt.data_dir / belt.run_id / "checkpoints" / "ckpt_2.pt"
    result = bench_learn(checkpoint=str(checkpoint), episodes=2, seed0=1_000_000, progress=False, eval_env="train",
                         greedy_generations=0)
    result["training_of_checkpoint"] = training_of_checkpoint(checkpoint)
    package = tmp_path_factory.mktemp("model") / MODEL_NAME
    card = write_package(package, checkpoint, result, "prospector bench learn --checkpoint X --ship Y")

    data_dir = tmp_path_factory.mktemp("first-start") / "runs"
    data_dir.mkdir()
    tag = f"test:web:first:{uuid.uuid4().hex[:10]}"
    stack = Belt(data_dir, card["run_id"], f"{tag}:windows", f"{tag}:replays", f"{tag}:dead", tag)
    settings = Settings(data_dir=data_dir, redis_url=REDIS_URL, wandb_mode="disabled")
    assert register_pretrained(data_dir, settings.database_url, REDIS_URL, model_dir=package,
                               stream=stack.windows_stream) == card["run_id"]

    # the fresh run, after it, in the same catalog; its windows on a stream of their own
    fresh_run_id = new_run_id(git_sha="nogit")
    cfg = load_config("tiny", ["env.time_max=48", "policy.action_masking=true", "policy.forbid_cash_out=true",
                               "policy.forbid_jettison=true"])
    cfg.run.data_dir = str(data_dir)
    fresh_windows = f"{tag}:fresh-windows"
    TrainerService(cfg, ServiceOptions(grpc_port=None, metrics_port=None, wandb=False,
                                       database_url=settings.database_url, redis_url=REDIS_URL,
                                       stream=fresh_windows)).train(run_id=fresh_run_id)
    with Catalog(settings.database_url) as catalog:
        assert catalog.set_run_status(fresh_run_id, "running")

    evaluate(stack)  # the evaluator plays the pretrained window (announced by register_pretrained)
    with LiveServer(make_app(stack, web_dist, pretrained_model=package / "policy.npz"), start_timeout=15) as live:
        yield FirstStart(live, stack, fresh_run_id, fresh_windows)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = list(client.scan_iter(f"{tag}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def best_replay(server, run_id: str) -> dict:
    """The run's best replay as the page picks it: the best_so_far one with the highest net profit."""
    best = api_get(server, f"/api/runs/{run_id}/replays?tag=best_so_far")["items"]
    assert best, "the evaluator tagged no best_so_far replay"
    return max(best, key=lambda r: (r["net_profit"], r["window_id"], r["created_at"]))


def test_the_page_shows_the_pretrained_run_on_first_start(first_start, browser):
    server, pretrained, fresh = first_start.server, first_start.stack.run_id, first_start.fresh_run_id
    meta = api_get(server, "/api/meta")["pretrained"]
    assert (meta["run_id"], meta["window_id"]) == (pretrained, 2)  # the package's: the belt's window-2 checkpoint
    runs = api_get(server, "/api/runs")["items"]
    assert [r["run_id"] for r in runs] == [fresh, pretrained]  # the fresh run is the newest
    assert [r["status"] for r in runs] == ["running", "finished"]
    assert api_get(server, f"/api/runs/{fresh}/replays")["items"] == []  # still nothing of its own to show
    expected = best_replay(server, pretrained)

    for size, options in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(**options)
        page = context.new_page()
        page.problems = PageProblems(page)
        try:
            page.goto(server.url + "/")
            page.get_by_test_id("replay-id").wait_for()
            assert page.get_by_test_id("replay-id").inner_text() == expected["replay_id"]
            assert page.get_by_test_id("pretrained-badge").inner_text() == "pretrained agent"
            assert page.get_by_test_id("pretrained-badge").is_visible()
            line = page.get_by_test_id("pretrained-showcase")
            assert line.is_visible()
            text = line.inner_text()
            assert "pretrained agent's best replay" in text and "trains beside it" in text and fresh in text, text
            assert "first replay comes" in text and page.get_by_test_id("watch-fresh").count() == 0
            # the run picker shows the pretrained run, labelled; the fresh run is listed beside it
            assert page.get_by_test_id("pick-run").input_value() == pretrained
            picked = page.locator("[data-testid=pick-run] option:checked").inner_text()
            assert picked == f"{pretrained} · finished · pretrained agent"
            assert page.locator(f"[data-testid=pick-run] option[value='{fresh}']").inner_text() == f"{fresh} · running"
            assert page.get_by_test_id("early-loss").count() == 0  # no "still close to random" for this one
            wait_for_tick_above(page, "replay-tick", 0)  # it plays
            assert page.evaluate(OVERFLOW) <= 0
            screenshot(page, f"replay-pretrained-first-start-{size}")
            no_console_errors(page)
        finally:
            context.close()


def test_one_click_switches_to_the_fresh_runs_latest_replay_once_it_has_one(first_start, page):
    server, pretrained, fresh = first_start.server, first_start.stack.run_id, first_start.fresh_run_id
    page.goto(server.url + "/")
    page.get_by_test_id("pretrained-showcase").wait_for()
    assert page.get_by_test_id("replay-id").inner_text() == best_replay(server, pretrained)["replay_id"]

    # the fresh run's first window is evaluated: the page hears of its replay (live) and offers it
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    first_window = client.xrange(first_start.fresh_windows)[0][1]
    client.xadd(first_start.stack.windows_stream, first_window)
    client.close()
    evaluate(first_start.stack)
    items = api_get(server, f"/api/runs/{fresh}/replays?tag=every_window")["items"]
    assert items and {r["window_id"] for r in items} == {0}
    switch = page.get_by_test_id("watch-fresh")
    switch.wait_for(timeout=20_000)
    assert "window 0" in page.get_by_test_id("pretrained-showcase").inner_text()
    # still the pretrained agent until the person chooses
    assert page.get_by_test_id("replay-id").inner_text() == best_replay(server, pretrained)["replay_id"]
    screenshot(page, "replay-pretrained-fresh-has-a-replay")
    switch.click()
    page.wait_for_url(lambda url: url.endswith(f"/?run={fresh}"))
    latest = max(items, key=lambda r: (r["window_id"], r["created_at"]))
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=replay-id]')?.textContent === '{latest['replay_id']}'")
    assert page.get_by_test_id("pretrained-badge").count() == 0
    assert page.get_by_test_id("pretrained-showcase").count() == 0
    wait_for_tick_above(page, "replay-tick", 0)
    screenshot(page, "replay-fresh-after-switch")

    # the analytics page labels the pretrained run where it lists and charts runs
    page.goto(f"{server.url}/analytics?run={pretrained}&compare={fresh}")
    page.locator("figure.chart canvas").first.wait_for()
    assert page.get_by_test_id("analytics-pretrained").inner_text() == "pretrained agent"
    assert page.locator("[data-testid=analytics-run] option:checked").inner_text().endswith("· pretrained agent")
    assert f"{pretrained} (pretrained agent)" in page.locator("figure.chart").first.inner_text()
    screenshot(page, "analytics-pretrained")
    no_console_errors(page)


def test_without_a_pretrained_run_the_page_follows_the_newest_run_as_before(first_start, web_dist, page):
    """The same catalog, served by an API without the model: nothing says which run is pretrained,
    so `/` follows the newest run (the fresh one) as it always has."""
    stack = first_start.stack
    with LiveServer(make_app(stack, web_dist, pretrained_model=Path("/nonexistent/policy.npz")),
                    start_timeout=15) as server:
        assert api_get(server, "/api/meta")["pretrained"] is None
        page.goto(server.url + "/")
        page.get_by_test_id("pick-run").wait_for()
        page.wait_for_function(
            f"() => document.querySelector('[data-testid=pick-run]')?.value === '{first_start.fresh_run_id}'")
        assert page.get_by_test_id("pretrained-showcase").count() == 0
        assert "pretrained agent" not in page.get_by_test_id("pick-run").inner_text()
    no_console_errors(page)
