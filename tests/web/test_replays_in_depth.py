"""Replays in depth: every event the engine reports played through at speed (desktop and
phone) with zero page errors; the policy panel of an evaluator replay (absent for a bot's);
the page's one action vocabulary, amounts and labels; /play's visible invalid reasons."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prospector import spec

from .conftest import Belt, LiveServer, make_app, screenshot
from .scripted import RECIPES, record
from .test_pages import api_get, latest_every_window, no_console_errors, wait_for_tick_above

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "reduced_motion": "reduce"}  # the phone run also checks the still (reduced-motion) effects
DESKTOP = {"viewport": {"width": 1366, "height": 860}}


@pytest.fixture(scope="module")
def bot_belt(web_dist, tmp_path_factory):
    """Its own catalog and API: a run with one window and the scripted replays (no policy)."""
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_replay_id, new_run_id
    from prospector_common.replay import write_replay
    from prospector_common.settings import Settings
    from prospector_common.storage import RunPaths

    data_dir = tmp_path_factory.mktemp("bot-belt")
    run_id = new_run_id(git_sha="nogit")
    paths = RunPaths(data_dir, run_id)
    paths.make_dirs()
    replays, seen = [], set()
    with Catalog(Settings(data_dir=data_dir).database_url) as catalog:
        catalog.create_all()
        catalog.upsert_run(run_id, config={}, spec_version=spec.SPEC_VERSION, git_sha="nogit")
        catalog.add_window(run_id, 0, env_steps_total=1000, checkpoint_path="none", metrics={})
        for name, make, seed, time_max, args in RECIPES:
            recorder, config, metrics, events = record(make, seed, time_max, args)
            seen |= events
            replay_id = new_replay_id(0, seed, key=f"scripted:{name}")
            path = paths.replay(replay_id)
            write_replay(path, recorder.to_bytes(
                run_id=run_id, window_id=0, replay_id=replay_id, seed=seed, env_config=config.to_dict(),
                policy={"mode": f"scripted {name}"}, summary={"metrics": metrics}))
            catalog.add_replay(replay_id=replay_id, run_id=run_id, window_id=0, seed=seed,
                               return_=metrics["episode_return"], net_profit=metrics["net_profit"],
                               survival=metrics["survival"] >= 1.0, length=len(recorder), tags=[],
                               path=paths.relative(path))
            replays.append((name, replay_id, len(recorder)))
    assert seen == set(spec.EVENT_NAMES), f"the scripted replays miss {set(spec.EVENT_NAMES) - seen}"
    tag = f"test:web-bots:{uuid.uuid4().hex[:10]}"
    belt = Belt(data_dir, run_id, f"{tag}:trained", f"{tag}:replays", f"{tag}:dead", tag)
    with LiveServer(make_app(belt, web_dist), start_timeout=15) as server:
        yield server, run_id, replays


def frame_index(page) -> int:
    return int(page.get_by_test_id("frame-index").get_attribute("data-frame-index"))


def play_through(page, url: str, length: int) -> None:
    """Every notable event frame in turn (each starts its effects), then the whole replay at 240 fps."""
    page.goto(url)
    wait_for_tick_above(page, "replay-tick", 0)
    page.keyboard.press("k")  # pause
    page.keyboard.press("Home")
    page.wait_for_function("() => !document.querySelector('[data-testid=frame-index]').textContent.includes('timeline')",
                           timeout=30_000)  # every frame known: "next event" sees them all
    last = -1
    for _ in range(length):
        page.keyboard.press("n")
        page.wait_for_timeout(25)  # let the effects animate a frame or two
        now = frame_index(page)
        if now == last:
            break
        last = now
    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press("]")  # 30 -> 240 fps
    page.keyboard.press("k")
    page.wait_for_function(f"() => Number(document.querySelector('[data-testid=frame-index]').dataset.frameIndex) >= {length - 1}",
                           timeout=60_000)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_event_plays_through_at_speed_without_a_page_error(bot_belt, browser, size):
    server, run_id, replays = bot_belt
    context = browser.new_context(**(DESKTOP if size == "desktop" else PHONE))
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    try:
        for name, replay_id, length in replays:
            play_through(page, f"{server.url}/?run={run_id}&replay={replay_id}", length)
            assert errors == [], (name, errors)
            if name == "mixed":
                screenshot(page, f"replay-all-events-{size}")
        # a bot's replay: no policy panel, no value or entropy
        assert page.get_by_test_id("policy-panel").count() == 0
    finally:
        context.close()


def test_an_evaluator_replay_shows_why_the_agent_acted(server, belt, page):
    expected = latest_every_window(server, belt.run_id)
    frames = api_get(server, f"/api/runs/{belt.run_id}/replays/{expected['replay_id']}/frames?offset=0&limit=5")["frames"]
    assert frames[0]["policy"] and len(frames[0]["policy"]["top"]) == 5
    page.goto(f"{server.url}/?run={belt.run_id}&replay={expected['replay_id']}")
    wait_for_tick_above(page, "replay-tick", 0)
    page.keyboard.press("k")
    panel = page.get_by_test_id("policy-panel")
    panel.wait_for()
    assert page.get_by_test_id("policy-bar").count() == 5
    assert "value" in page.get_by_test_id("policy-value").inner_text()
    # the chosen action is marked among the bars when it is among the top actions (greedy: the first)
    chosen = page.locator("[data-testid=policy-bar].chosen")
    assert chosen.count() == 1 and chosen.first.get_attribute("data-action") == str(
        api_get(server, f"/api/runs/{belt.run_id}/replays/{expected['replay_id']}/frames?offset="
                f"{frame_index(page)}&limit=1")["frames"][0]["action"])
    if expected["net_profit"] < 0:  # early windows lose money: the page says that is expected
        assert "expected" in page.get_by_test_id("early-loss").inner_text()
    screenshot(page, "replay-policy")
    no_console_errors(page)


def test_a_bot_replay_shows_no_policy_panel(bot_belt, page):
    server, run_id, replays = bot_belt
    page.goto(f"{server.url}/?run={run_id}&replay={replays[0][1]}")
    wait_for_tick_above(page, "replay-tick", 0)
    page.get_by_test_id("commodity-legend").wait_for()
    assert page.get_by_test_id("policy-panel").count() == 0
    no_console_errors(page)


def test_play_shows_the_invalid_reason_beside_the_action_and_o_is_not_zero(server, page):
    page.goto(server.url + "/play?seed=7")
    page.get_by_test_id("play-tick").wait_for()
    # at the station: WIDE_SCAN is invalid and says why, in the page, not only in a tooltip
    why = page.get_by_test_id("why-8")
    assert why.is_visible() and "station" in why.inner_text()
    assert page.get_by_test_id("action-33").locator("kbd").inner_text() == "o"
    help_text = page.get_by_test_id("key-help").inner_text()
    assert "o Active cooldown" in help_text and "Mine conservative" in help_text
    assert "Mine conservative" in page.get_by_test_id("action-28").inner_text()
    page.keyboard.press("0")  # read as the letter o: ACTIVE_COOLDOWN
    page.wait_for_function("() => document.querySelector('[data-testid=action-name]')?.textContent.startsWith('Active cooldown')")
    screenshot(page, "play-reasons")
    no_console_errors(page)


def test_sound_is_off_until_turned_on_and_the_choice_is_remembered_and_sprites_load(bot_belt, page):
    server, run_id, replays = bot_belt
    page.goto(f"{server.url}/?run={run_id}&replay={replays[0][1]}")
    wait_for_tick_above(page, "replay-tick", 0)
    mute = page.get_by_test_id("mute")
    assert mute.get_attribute("aria-pressed") == "false" and "off" in mute.inner_text()
    mute.click()
    assert mute.get_attribute("aria-pressed") == "true"
    page.reload()
    wait_for_tick_above(page, "replay-tick", 0)
    assert page.get_by_test_id("mute").get_attribute("aria-pressed") == "true"
    # the manifest's sprites were asked for lazily and came from the web package
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name.includes('/assets/kenney/'))")
    names = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/assets/kenney/'))")
    assert any("playerShip1_blue.png" in n for n in names), names
    for name in names:  # served from the built page (public/ -> dist/), not a 404 drawn as nothing
        assert httpx.get(name, timeout=10).status_code == 200, name
    assert httpx.get(f"{server.url}/assets/kenney/space-shooter-redux/license.txt", timeout=10).status_code == 200
    page.get_by_test_id("mute").click()
    no_console_errors(page)
