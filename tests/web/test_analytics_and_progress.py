"""/analytics as training diagnostics: PPO's own metrics against env steps, zoom, several
runs overlaid with their configs and a diff (the windows of the real tiny run, cataloged
again under a second run id in a catalog of its own)."""

from __future__ import annotations

import uuid

import pytest
from prospector import spec

from .conftest import Belt, LiveServer, make_app, screenshot
from .test_pages import no_console_errors


@pytest.fixture(scope="module")
def two_runs(belt, web_dist, tmp_path_factory):
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_run_id
    from prospector_common.settings import Settings

    with Catalog(Settings(data_dir=belt.data_dir).database_url) as source:
        run = source.get_run(belt.run_id)
        windows = source.list_windows(belt.run_id)
    data_dir = tmp_path_factory.mktemp("two-runs")
    other = new_run_id(git_sha="nogit")
    with Catalog(Settings(data_dir=data_dir).database_url) as catalog:
        catalog.create_all()
        for run_id, scale, config in ((belt.run_id, 1.0, run.config),
                                      (other, 1.5, {**run.config, "note": "a second run, for the overlay"})):
            catalog.upsert_run(run_id, config=config, spec_version=spec.SPEC_VERSION, git_sha="nogit")
            for w in windows:
                metrics = {k: (v * scale if isinstance(v, float) else v) for k, v in w.metrics.items()}
                catalog.add_window(run_id, w.window_id, env_steps_total=w.env_steps_total,
                                   checkpoint_path=w.checkpoint_path, metrics=metrics)
    tag = f"test:web-runs:{uuid.uuid4().hex[:10]}"
    b = Belt(data_dir, belt.run_id, f"{tag}:trained", f"{tag}:replays", f"{tag}:dead", tag)
    with LiveServer(make_app(b, web_dist), start_timeout=15) as server:
        yield server, belt.run_id, other, windows


def test_charts_draw_ppo_losses_against_env_steps_zoom_and_overlay_two_runs(two_runs, page):
    server, run_id, other, windows = two_runs
    page.goto(f"{server.url}/analytics?run={run_id}")
    first = page.locator("figure.chart").first
    first.locator("canvas").first.wait_for()
    metrics = page.locator("figure.chart").evaluate_all("els => els.map(e => e.dataset.metric)")
    # PPO's own diagnostics first, then the game's
    assert metrics[:2] == ["policy_loss", "value_loss"], metrics
    assert {"entropy", "approx_kl", "clipfrac", "explained_variance", "learning_rate", "steps_per_second",
            "net_profit_mean", "survival_rate"} <= set(metrics)
    loss = page.locator("figure.chart[data-metric=policy_loss]")
    assert loss.get_attribute("data-x") == "env steps"
    assert loss.get_attribute("data-points") == str(len(windows))
    # the x-axis fits the env steps (not 0..100, not window ids)
    lo, hi = float(loss.get_attribute("data-x-min")), float(loss.get_attribute("data-x-max"))
    steps = [w.env_steps_total for w in windows]
    assert lo <= min(steps) and hi >= max(steps) and hi < max(steps) * 1.5
    # zoom: drag across the middle of the plot
    over = loss.locator(".u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    zlo, zhi = float(loss.get_attribute("data-x-min")), float(loss.get_attribute("data-x-max"))
    assert lo < zlo < zhi < hi, (lo, hi, zlo, zhi)
    # a second run overlaid, smoothed, with its config diff
    page.goto(f"{server.url}/analytics?run={run_id}&compare={other}&smooth=0.6")
    loss = page.locator("figure.chart[data-metric=policy_loss]")
    loss.locator("canvas").first.wait_for()
    assert loss.get_attribute("data-runs") == "2"
    legend = loss.locator(".u-legend").inner_text()
    assert run_id in legend and other in legend and "(EMA)" in legend
    assert "note" in page.get_by_test_id("config-diff").inner_text()
    screenshot(page, "analytics-overlay")
    # window and wall time on the x-axis
    page.goto(f"{server.url}/analytics?run={run_id}&x=window")
    page.locator("figure.chart[data-metric=policy_loss][data-x=window] canvas").first.wait_for()
    no_console_errors(page)


def test_the_progress_panel_moves_before_the_first_replay(belt, web_dist, tmp_path, page):
    """A run without replays, its trainer answering TrainerService.Status (the trainer's own
    servicer, fed a status that advances like a training loop's): the page shows the
    window's env steps, SPS and ETA moving, and the evaluator as not reachable."""
    import itertools

    from prospector_api.app import create_app
    from prospector_api.settings import ApiSettings
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_run_id
    from prospector_common.settings import Settings
    from prospector_rpc.server import serve_grpc
    from prospector_trainer.servicer import TrainerServicer

    from .conftest import REDIS_URL

    run_id = new_run_id(git_sha="nogit")
    with Catalog(Settings(data_dir=tmp_path).database_url) as catalog:
        catalog.create_all()
        catalog.upsert_run(run_id, config={"run": {"window_env_steps": 100_000}}, spec_version=spec.SPEC_VERSION,
                           git_sha="nogit")
    calls = itertools.count()

    def status():
        n = next(calls)
        return {"run_id": run_id, "env_steps": 5_000 + 2_000 * n, "sps": 4_000.0, "current_window": 0,
                "state": "training", "total_env_steps": 1_000_000, "window_env_steps": 100_000, "windows_done": 0}

    grpc_server = serve_grpc([TrainerServicer(status)], port=0, host="127.0.0.1")
    try:
        tag = f"test:web-progress:{uuid.uuid4().hex[:10]}"
        settings = Settings(data_dir=tmp_path, redis_url=REDIS_URL, wandb_mode="disabled",
                            trainer_host="127.0.0.1", trainer_grpc_port=grpc_server.port,
                            evaluator_host="127.0.0.1", evaluator_grpc_port=1)
        api = ApiSettings(session_prefix=f"{tag}:play", windows_stream=f"{tag}:trained",
                          replays_stream=f"{tag}:replays", events_block_ms=200, web_dist=web_dist)
        with LiveServer(create_app(settings, api), start_timeout=15) as server:
            page.goto(f"{server.url}/?run={run_id}")
            page.get_by_test_id("empty-state").wait_for()
            panel = page.get_by_test_id("progress-panel")
            panel.wait_for()
            assert page.get_by_test_id("progress-trainer").inner_text() == "training"
            assert page.get_by_test_id("progress-evaluator").inner_text() == "not reachable"
            first = int(page.get_by_test_id("progress-steps").inner_text().replace(",", ""))
            page.wait_for_function(
                "n => Number(document.querySelector('[data-testid=progress-steps]').textContent.replace(/,/g, '')) > n",
                arg=first, timeout=10_000)
            assert "of 100,000 env steps" in panel.inner_text() and "SPS" in panel.inner_text()
            assert page.get_by_test_id("progress-eta").inner_text() not in ("", "–")
            screenshot(page, "replay-progress")
    finally:
        grpc_server.stop(0)
    no_console_errors(page)
