"""Issue 15's presentation items, in Chromium on real runs: one slot numbering from /api/meta
(key 1 is "Travel 1" in buttons, key help, the current action and the policy panel), an event
log that groups repeated events, a volume per sound group that is remembered, and the scan,
fracture and sale sprites drawn."""

from __future__ import annotations

from .conftest import screenshot
from .test_pages import api_get, latest_every_window, no_console_errors, tick, wait_for_tick_above
from .test_replays_in_depth import DESKTOP, PHONE, bot_belt, play_through  # noqa: F401 (a fixture)


def step_with_key(page, key: str) -> None:
    """Press a play key and wait until the step it sent came back (the tick moved)."""
    before = tick(page, "play-tick")
    page.keyboard.press(key)
    wait_for_tick_above(page, "play-tick", before)


def test_one_slot_numbering_from_meta_key_1_is_travel_1_everywhere(server, belt, page):
    labels = api_get(server, "/api/meta")["action_labels"]
    assert labels[0] == "Travel 1"
    page.goto(server.url + "/play?seed=7")
    page.get_by_test_id("play-tick").wait_for()
    travel = page.get_by_test_id("action-0")
    assert travel.locator("kbd").inner_text() == "1"
    assert travel.inner_text().startswith("Travel 1 → node ")  # the slot the key names, then where it goes
    help_text = page.get_by_test_id("key-help").inner_text()
    assert "1 Travel 1 ·" in help_text and "6 Travel 6 ·" in help_text and "Travel 0" not in help_text
    # every button of the palette says its /api/meta label (the sell rows say only the bucket)
    for button in page.locator("button.action").all():
        action = int(button.get_attribute("data-action"))
        text = button.inner_text()
        if not (43 <= action <= 60):
            assert text.startswith(labels[action]), (action, text, labels[action])
    page.keyboard.press("1")
    page.wait_for_function("() => document.querySelector('[data-testid=action-name]')?.textContent.startsWith('Travel 1 → node')")
    # the same label in a replay the evaluator recorded: the policy panel and the current action
    replay = latest_every_window(server, belt.run_id)
    page.goto(f"{server.url}/?run={belt.run_id}&replay={replay['replay_id']}")
    page.get_by_test_id("policy-panel").wait_for()
    page.keyboard.press("k")  # pause: the bars stay those of one frame
    page.wait_for_timeout(200)
    for bar in page.get_by_test_id("policy-bar").all():
        assert bar.inner_text().lstrip("▶ ").startswith(labels[int(bar.get_attribute("data-action"))])
    assert "TRAVEL_" not in page.get_by_test_id("replay-player").inner_text()
    assert "Travel 0" not in page.get_by_test_id("replay-player").inner_text()
    no_console_errors(page)


def test_the_event_log_groups_repeated_events_on_one_line(server, page):
    page.goto(server.url + "/play?seed=7")
    page.get_by_test_id("play-tick").wait_for()
    for _ in range(4):
        step_with_key(page, "w")  # WIDE_SCAN at the station: invalid, four times in a row
    step_with_key(page, "l")  # PASSIVE_THREAT_LISTEN: nothing notable
    step_with_key(page, "k")  # DOCK
    lines = page.locator(".event-log li")
    texts = [line.inner_text() for line in lines.all()]
    assert len(texts) == 2, texts
    assert texts[0].endswith("dock"), texts
    assert "invalid Wide scan ×4 (held instead)" in texts[1], texts
    assert lines.nth(1).get_attribute("data-count") == "4"
    assert texts[1].startswith("t1–"), texts  # the ticks of the first and the last of the four
    screenshot(page, "play-event-log")
    no_console_errors(page)


def test_each_sound_group_has_a_volume_that_is_remembered(server, browser):
    for size, options in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(**options)
        page = context.new_page()
        try:
            page.goto(server.url + "/play?seed=7")
            page.get_by_test_id("play-tick").wait_for()
            page.get_by_test_id("volume-menu").click()
            events, ui = page.get_by_test_id("volume-events"), page.get_by_test_id("volume-ui")
            assert events.is_visible() and ui.is_visible()
            events.fill("80")
            ui.fill("15")
            screenshot(page, f"sound-volumes-{size}")
            page.reload()
            page.get_by_test_id("play-tick").wait_for()
            page.get_by_test_id("volume-menu").click()
            assert page.get_by_test_id("volume-events").input_value() == "80"
            assert page.get_by_test_id("volume-ui").input_value() == "15"
            stored = page.evaluate("() => [localStorage['prospector.volume.events'], localStorage['prospector.volume.ui']]")
            assert stored == ["0.8", "0.15"]
            assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
        finally:
            context.close()


def test_scan_fracture_and_sale_sprites_are_drawn_from_the_manifest(bot_belt, browser):
    """The scripted 'mixed' replay has scans, fractures and sales: playing it asks for their sprites."""
    server, run_id, replays = bot_belt
    name, replay_id, length = next(r for r in replays if r[0] == "mixed")
    for size, options in (("desktop", DESKTOP), ("phone", PHONE)):  # the phone run is reduced motion
        context = browser.new_context(**options)
        page = context.new_page()
        try:
            play_through(page, f"{server.url}/?run={run_id}&replay={replay_id}", length)
            files = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)"
                                  ".filter(n => n.includes('/assets/kenney/')).map(n => n.split('/').pop())")
            assert "laserBlue08.png" in files, files  # beam.scan
            assert "star1.png" in files, files  # fx.fracture and fx.sale
            page.keyboard.press("Home")
            page.keyboard.press("n")  # the first notable event, drawn and kept on screen
            page.wait_for_timeout(100)
            screenshot(page, f"replay-sprites-{size}")
        finally:
            context.close()
