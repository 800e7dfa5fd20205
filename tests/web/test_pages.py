"""The web page end to end: headless Chromium against the real API serving replays that
the real evaluator made from a short real training run (see conftest.py).

Every test also asserts that the page logged no console error. Screenshots of each
page go to tests/web/artifacts/.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from .conftest import LiveServer, make_app, release_held_window, screenshot


def api_get(server, path: str):
    response = httpx.get(server.url + path, timeout=10)
    response.raise_for_status()
    return response.json()


def latest_every_window(server, run_id: str) -> dict:
    items = api_get(server, f"/api/runs/{run_id}/replays?tag=every_window")["items"]
    return max(items, key=lambda r: r["window_id"])


def tick(page, testid: str) -> int:
    return int(page.get_by_test_id(testid).inner_text())


def wait_for_tick_above(page, testid: str, value: int, timeout_s: float = 15) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = tick(page, testid)
        if now > value:
            return now
        page.wait_for_timeout(50)
    raise AssertionError(f"{testid} stayed at {tick(page, testid)}, expected it above {value}")


def no_console_errors(page) -> None:
    assert page.problems.errors == [], (page.problems.errors, page.problems.failed_responses)


# ---- `/`: replay ---------------------------------------------------------------------------------


def test_replay_page_defaults_to_the_latest_every_window_replay_and_frames_advance_while_playing(server, belt, page):
    expected = latest_every_window(server, belt.run_id)
    page.goto(server.url + "/")
    page.get_by_test_id("replay-id").wait_for()
    assert page.get_by_test_id("replay-id").inner_text() == expected["replay_id"]
    first = wait_for_tick_above(page, "replay-tick", 0)
    later = wait_for_tick_above(page, "replay-tick", first)
    assert later > first
    assert page.get_by_test_id("play-pause").get_attribute("aria-label") == "pause"  # it plays by itself
    # the window card shows the replay's window with its metrics
    assert f"Window {expected['window_id']}" in page.get_by_test_id("window-card").inner_text()
    # the sector view has drawn something (not a blank canvas)
    colors = page.evaluate("""() => {
        const c = document.querySelector('[data-testid=sector-canvas]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let y = 0; y < c.height; y += 5) {
            for (let x = 0; x < c.width; x += 5) {
                const i = 4 * (y * c.width + x);
                seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
            }
        }
        return seen.size;
    }""")
    assert colors > 10, f"blank sector view; page errors: {page.problems.errors}"
    screenshot(page, "replay")
    no_console_errors(page)


def test_replay_keyboard_pauses_steps_and_jumps(server, page):
    page.goto(server.url + "/")
    wait_for_tick_above(page, "replay-tick", 0)
    page.keyboard.press("k")  # pause
    assert page.get_by_test_id("play-pause").get_attribute("aria-label") == "play"
    paused = page.get_by_test_id("frame-index").get_attribute("data-frame-index")
    page.wait_for_timeout(300)
    assert page.get_by_test_id("frame-index").get_attribute("data-frame-index") == paused
    page.keyboard.press("ArrowRight")
    assert int(page.get_by_test_id("frame-index").get_attribute("data-frame-index")) == int(paused) + 1
    page.keyboard.press("Home")
    assert page.get_by_test_id("frame-index").get_attribute("data-frame-index") == "0"
    page.keyboard.press("g")  # the tick box
    page.keyboard.type("100")
    page.keyboard.press("Enter")
    page.wait_for_function("() => Number(document.querySelector('[data-testid=replay-tick]').textContent) >= 100")
    at = int(page.get_by_test_id("frame-index").get_attribute("data-frame-index"))
    page.keyboard.press("ArrowLeft")  # the frame before is before tick 100
    assert tick(page, "replay-tick") < 100
    page.keyboard.press("n")  # the next notable event, if any, is later
    assert int(page.get_by_test_id("frame-index").get_attribute("data-frame-index")) >= at - 1
    no_console_errors(page)


def test_pickers_switch_replays_and_filter_by_tag(server, belt, page):
    replays = api_get(server, f"/api/runs/{belt.run_id}/replays")["items"]
    assert len(replays) >= 2
    page.goto(server.url + "/")
    shown = page.get_by_test_id("replay-id")
    shown.wait_for()
    other = next(r for r in replays if r["replay_id"] != shown.inner_text())
    page.get_by_test_id("pick-replay").select_option(other["replay_id"])
    page.wait_for_function("id => document.querySelector('[data-testid=replay-id]')?.textContent === id",
                           arg=other["replay_id"])
    assert "replay=" + other["replay_id"] in page.url
    wait_for_tick_above(page, "replay-tick", 0)
    # the tag filter leaves only replays with that tag in the replay picker
    page.get_by_test_id("pick-tag").select_option("best_so_far")
    page.wait_for_function("() => location.search.includes('tag=best_so_far')")
    options = page.get_by_test_id("pick-replay").locator("option").all_inner_texts()
    best = [r for r in replays if "best_so_far" in r["tags"]]
    listed = [o for o in options if "(filtered out)" not in o]
    assert len(listed) == len(best) and all("best_so_far" in o for o in listed)
    screenshot(page, "replay-picked")
    no_console_errors(page)


def test_a_late_answer_for_the_replay_picked_before_does_not_replace_the_one_picked_now(server, belt, page):
    """The first replay's details arrive after the second's (a slow server, a busy machine): the
    page keeps showing, and playing, the replay picked last."""
    import re

    held = []
    detail_url = re.compile(r"/api/runs/[^/]+/replays/[^/?]+$")

    def hold_the_first(route):
        if not held:
            held.append(route)  # answered below, after the second replay's details
        else:
            route.continue_()

    page.route(detail_url, hold_the_first)
    replays = api_get(server, f"/api/runs/{belt.run_id}/replays")["items"]
    page.goto(server.url + "/")
    shown = page.get_by_test_id("replay-id")
    shown.wait_for()
    first = shown.inner_text()
    other = next(r for r in replays if r["replay_id"] != first)
    page.get_by_test_id("pick-replay").select_option(other["replay_id"])
    wait_for_tick_above(page, "replay-tick", 0)
    assert held and held[0].request.url.endswith("/replays/" + first)
    with page.expect_response(lambda r: r.url.endswith("/replays/" + first)):
        held[0].continue_()
    page.wait_for_timeout(300)  # the late answer's render, had it been taken
    assert shown.inner_text() == other["replay_id"]
    assert page.get_by_text("Loading replay…").count() == 0
    before = tick(page, "replay-tick")
    wait_for_tick_above(page, "replay-tick", before)
    no_console_errors(page)


def test_a_run_without_replays_says_so(belt, web_dist, tmp_path, page):
    """A fresh run (its own catalog and API) whose evaluator has not recorded anything yet."""
    from dataclasses import replace

    from prospector import spec
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_run_id
    from prospector_common.settings import Settings

    fresh = replace(belt, data_dir=tmp_path)
    empty = new_run_id(git_sha="nogit")
    with Catalog(Settings(data_dir=tmp_path).database_url) as catalog:
        catalog.create_all()
        catalog.upsert_run(empty, config={}, spec_version=spec.SPEC_VERSION, git_sha="nogit")
    with LiveServer(make_app(fresh, web_dist), start_timeout=15) as server:
        page.goto(server.url + "/")
        message = page.get_by_test_id("empty-state")
        message.wait_for()
        assert "no replays yet" in message.inner_text() and empty in message.inner_text()
        screenshot(page, "replay-no-replays")
    no_console_errors(page)


def test_api_down_shows_a_clear_message(server, page):
    page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    page.goto(server.url + "/")
    error = page.get_by_test_id("api-error")
    error.wait_for()
    assert "not reachable" in error.inner_text()
    screenshot(page, "api-down")


def test_every_page_fits_a_phone(server, belt, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    overflow = "() => document.documentElement.scrollWidth - window.innerWidth"
    try:
        page.goto(server.url + "/")
        wait_for_tick_above(page, "replay-tick", 0)
        assert page.evaluate(overflow) <= 0
        screenshot(page, "replay-phone")
        page.goto(server.url + "/play?seed=7")
        page.get_by_test_id("action-6").wait_for()
        assert page.evaluate(overflow) <= 0
        screenshot(page, "play-phone")
        page.goto(f"{server.url}/analytics?run={belt.run_id}")
        page.locator("figure.chart canvas").first.wait_for()
        assert page.evaluate(overflow) <= 0
        screenshot(page, "analytics-phone")
    finally:
        context.close()


# ---- `/play` -------------------------------------------------------------------------------------


def test_play_page_takes_keyboard_actions_and_the_hud_changes(server, page):
    page.goto(server.url + "/play?seed=7")
    page.get_by_test_id("play-tick").wait_for()
    assert tick(page, "play-tick") == 0
    fuel = page.get_by_test_id("gauge-fuel").inner_text()
    page.keyboard.press("1")  # TRAVEL to neighbor slot 1
    wait_for_tick_above(page, "play-tick", 0)
    page.wait_for_function("f => document.querySelector('[data-testid=gauge-fuel]')?.textContent !== f", arg=fuel)
    page.keyboard.press("l")  # PASSIVE_THREAT_LISTEN
    page.wait_for_function("() => document.querySelector('[data-testid=action-name]')?.textContent.startsWith('Passive')")
    assert page.get_by_test_id("play-credits").inner_text().replace(",", "").lstrip("-").isdigit()
    screenshot(page, "play")
    no_console_errors(page)


def test_two_quick_new_games_show_the_last_and_leave_no_session_open(server, page):
    """The first "New game"'s session is created after the second's (a slow server): the page shows
    the game asked for last and closes the other session instead of leaving it open."""
    import re

    held, created, closed = [], {}, []
    sessions_url = re.compile(r"/api/play/sessions$")

    def hold_the_first(route):
        if route.request.method == "POST" and not held:
            held.append(route)  # answered below, after the second game's
        else:
            route.continue_()

    def on_response(response):
        if response.request.method == "POST" and sessions_url.search(response.url) and response.ok:
            body = response.json()
            created[body["seed"]] = body["session_id"]

    page.goto(server.url + "/play?seed=7")
    page.get_by_test_id("play-tick").wait_for()
    page.on("response", on_response)
    page.on("request", lambda r: closed.append(r.url.rsplit("/", 1)[-1]) if r.method == "DELETE" else None)
    page.route(sessions_url, hold_the_first)
    for seed in (11, 12):
        page.get_by_test_id("play-seed").fill(str(seed))
        page.get_by_test_id("play-start").click()
    shown = page.locator("h1 .muted")
    page.wait_for_function("() => document.querySelector('h1 .muted')?.textContent === 'seed 12'")
    assert len(held) == 1 and json.loads(held[0].request.post_data)["seed"] == 11
    with page.expect_request(lambda r: r.method == "DELETE"):
        held[0].continue_()
    page.wait_for_timeout(300)  # the late answer's render, had it been taken
    assert shown.inner_text() == "seed 12"
    assert created[11] in closed and created[12] not in closed
    no_console_errors(page)


def test_an_invalid_action_is_greyed_and_explained_when_forced(server, page):
    page.goto(server.url + "/play?seed=7")
    page.get_by_test_id("play-tick").wait_for()
    wide_scan = page.get_by_test_id("action-8")  # WIDE_SCAN: not at the station
    assert "invalid" in wide_scan.get_attribute("class")
    page.keyboard.press("w")
    note = page.get_by_test_id("play-invalid")
    note.wait_for()
    assert "invalid" in note.inner_text() and "station" in note.inner_text()
    assert tick(page, "play-tick") == 1  # it ran as HOLD_DRIFT
    screenshot(page, "play-invalid")
    no_console_errors(page)


def test_the_end_of_an_episode_is_compared_with_the_agents_replay_on_the_same_seed(server, belt, page):
    agent = latest_every_window(server, belt.run_id)
    page.goto(f"{server.url}/play?seed={agent['seed']}&run={belt.run_id}&replay={agent['replay_id']}")
    page.get_by_test_id("play-tick").wait_for()
    page.get_by_text(f"agent replay on this seed: {agent['replay_id']}").wait_for()
    page.keyboard.press("q")  # CASH_OUT
    summary = page.get_by_test_id("play-summary")
    summary.wait_for()
    text = summary.inner_text()
    assert "cashed out" in text and f"Agent ({agent['replay_id']})" in text and "Net profit" in text
    screenshot(page, "play-summary")
    page.get_by_test_id("play-reset").click()  # the same belt again
    page.wait_for_function("() => !document.querySelector('[data-testid=play-summary]')")
    assert tick(page, "play-tick") == 0
    no_console_errors(page)


# ---- `/analytics` -----------------------------------------------------------------------------------


def test_analytics_draws_one_point_per_window(server, belt, page):
    windows = api_get(server, f"/api/runs/{belt.run_id}/metrics/windows")["items"]
    page.goto(f"{server.url}/analytics?run={belt.run_id}")
    count = page.get_by_test_id("analytics-window-count")
    page.wait_for_function("n => document.querySelector('[data-testid=analytics-window-count]')?.textContent === n",
                           arg=str(len(windows)))
    assert int(count.inner_text()) == len(windows) == 3
    charts = page.locator("figure.chart")
    assert charts.count() >= 11  # every numeric column of the window metrics, PPO's first
    net_profit = page.locator("figure.chart[data-metric=net_profit_mean]")
    assert net_profit.get_attribute("data-points") == str(len(windows))
    assert net_profit.locator("canvas").count() >= 1
    screenshot(page, "analytics")
    no_console_errors(page)


def test_analytics_marker_opens_its_replay(server, belt, page):
    page.goto(f"{server.url}/analytics?run={belt.run_id}")
    marker = page.get_by_test_id("marker").first
    marker.wait_for()
    marker.click()
    page.get_by_test_id("replay-id").wait_for()
    assert "replay=" in page.url and page.get_by_test_id("replay-id").inner_text() in page.url
    no_console_errors(page)


# ---- live ---------------------------------------------------------------------------------------------



def test_a_new_every_window_replay_replaces_the_one_shown(server, belt, page):
    page.goto(server.url + "/")
    page.get_by_test_id("replay-id").wait_for()
    before = page.get_by_test_id("replay-id").inner_text()
    release_held_window(belt)
    newest = latest_every_window(server, belt.run_id)
    assert newest["replay_id"] != before and newest["window_id"] == 2
    page.wait_for_function("id => document.querySelector('[data-testid=replay-id]')?.textContent === id",
                           arg=newest["replay_id"], timeout=20_000)
    wait_for_tick_above(page, "replay-tick", 0)
    no_console_errors(page)
