"""/play with the pretrained agent (issue 16), in Chromium against the real API: the agent's
top actions and their probabilities on the action palette (the numbers the API's
POST /api/play/sessions/{id}/suggest gave), "let the agent fly" stepping with its suggestion
at the hold pace until a key press takes the controls back, and, with no model served, the
agent's controls replaced by the reason."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import LiveServer, make_app, screenshot
from .test_pages import api_get, no_console_errors, tick, wait_for_tick_above
from .test_replays_in_depth import PHONE


@pytest.fixture(scope="module")
def model_server(belt, web_dist, tmp_path_factory):
    """The API serving a model exported from the belt's last checkpoint (the trainer's own)."""
    from prospector_common.policy.serving import export_numpy

    checkpoint = belt.data_dir / belt.run_id / "checkpoints" / "ckpt_2.pt"
    model = export_numpy(checkpoint, tmp_path_factory.mktemp("agent") / "policy.npz", name="tiny web-test agent")
    with LiveServer(make_app(belt, web_dist, pretrained_model=model), start_timeout=15) as live:
        yield live


def record_agent_traffic(page) -> tuple[list[dict], list[tuple[int, int | None]]]:
    """The suggestions the page received, in order, and each step it sent: (its action, the
    action of the last suggestion received before it)."""
    suggestions: list[dict] = []
    steps: list[tuple[int, int | None]] = []

    def on_response(response):
        if response.request.method == "POST" and response.url.endswith("/suggest") and response.ok:
            suggestions.append(response.json())

    def on_request(request):
        if request.method == "POST" and request.url.endswith("/step"):
            steps.append((json.loads(request.post_data)["action"], suggestions[-1]["action"] if suggestions else None))

    page.on("response", on_response)
    page.on("request", on_request)
    return suggestions, steps


def wait_until(page, condition, timeout_s: float = 30) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "timed out"
        page.wait_for_timeout(50)


def test_the_agent_suggests_on_the_palette_and_flies_until_a_key_takes_over(model_server, belt, page):
    meta = api_get(model_server, "/api/meta")
    assert meta["pretrained"]["name"] == "tiny web-test agent" and meta["pretrained"]["run_id"] == belt.run_id
    suggestions, steps = record_agent_traffic(page)
    page.goto(model_server.url + "/play?seed=7")
    page.get_by_test_id("play-tick").wait_for()
    advice = page.get_by_test_id("agent-suggests")
    advice.wait_for()
    # playwright hands the response to Python's handler while it waits, maybe after the page drew it
    wait_until(page, lambda: suggestions)
    # the palette shows the API's answer: each of the top actions' probability on its button
    top = suggestions[-1]["top"]
    assert 1 <= len(top) <= 5
    for action, p in top:
        if page.get_by_test_id(f"action-{action}").count() == 0:
            continue  # an action with no button here (an asteroid slot at the station)
        hint = page.get_by_test_id(f"hint-{action}")
        assert hint.is_visible(), action
        shown = hint.inner_text()
        assert shown == ("<1%" if p < 0.01 else f"{p * 100:.1f}%" if p < 0.1 else f"{round(p * 100)}%"), (shown, p)
    best = suggestions[-1]["action"]
    assert "suggested" in page.get_by_test_id(f"action-{best}").get_attribute("class")
    assert meta["action_labels"][best] in advice.inner_text()
    screenshot(page, "play-agent-suggests")

    # let it fly: it steps on its own, each step the action it had just suggested
    assert steps == []
    fly = page.get_by_test_id("agent-fly")
    fly.click()
    page.wait_for_function("() => document.querySelector('[data-testid=agent-fly]').getAttribute('aria-pressed') === 'true'")
    wait_for_tick_above(page, "play-tick", 0)
    wait_until(page, lambda: len(steps) >= 4)  # four steps, no key pressed
    assert tick(page, "play-tick") > 0
    assert all(action == suggested for action, suggested in steps), steps
    screenshot(page, "play-agent-flying")

    # any key takes the controls back, and only that: "h" (hold) is not carried out
    page.keyboard.press("h")
    page.wait_for_function("() => document.querySelector('[data-testid=agent-fly]').getAttribute('aria-pressed') === 'false'")
    page.wait_for_timeout(300)  # a step already on its way may land
    landed = tick(page, "play-tick")
    taken = len(steps)
    page.wait_for_timeout(1200)
    assert tick(page, "play-tick") == landed and len(steps) == taken  # nobody flies now
    # every step so far was the agent's: the "h" that took the controls back was not carried out
    assert all(action == suggested for action, suggested in steps), steps
    # the person flies again by hand
    page.keyboard.press("l")
    wait_for_tick_above(page, "play-tick", landed)
    assert steps[-1][0] == 11  # PASSIVE_THREAT_LISTEN
    no_console_errors(page)


def test_a_click_takes_the_controls_back_on_a_phone(model_server, browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        page.goto(model_server.url + "/play?seed=7")
        page.get_by_test_id("agent-suggests").wait_for()
        page.get_by_test_id("agent-fly").click()
        wait_for_tick_above(page, "play-tick", 0)
        page.wait_for_timeout(600)
        screenshot(page, "play-agent-flying-phone")
        page.get_by_test_id("commodity-legend").click()  # a click anywhere
        page.wait_for_function("() => document.querySelector('[data-testid=agent-fly]').getAttribute('aria-pressed') === 'false'")
        page.wait_for_timeout(300)
        landed = tick(page, "play-tick")
        page.wait_for_timeout(1000)
        assert tick(page, "play-tick") == landed
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    finally:
        context.close()


def test_without_a_model_the_agent_controls_give_way_to_the_reason(belt, web_dist, tmp_path, page):
    missing = tmp_path / "no-such-policy.npz"  # the server is told of a model it cannot load
    with LiveServer(make_app(belt, web_dist, pretrained_model=missing), start_timeout=15) as server:
        assert api_get(server, "/api/meta")["pretrained"] is None
        page.goto(server.url + "/play?seed=7")
        page.get_by_test_id("play-tick").wait_for()
        off = page.get_by_test_id("agent-off")
        off.wait_for()
        assert "no pretrained model" in off.inner_text()
        assert page.get_by_test_id("agent-fly").count() == 0
        assert page.locator("[data-testid^=hint-]").count() == 0
        page.keyboard.press("l")  # play goes on as ever
        wait_for_tick_above(page, "play-tick", 0)
        screenshot(page, "play-agent-off")
        no_console_errors(page)
