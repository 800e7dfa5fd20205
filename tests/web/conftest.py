"""Fixtures for the web page's end-to-end tests: a real short training run, replays made
by the real evaluator, the real API serving the built page, and Debian's Chromium.

Nothing is mocked. The run is the trainer service's own code path (tiny config: three
windows in seconds, cataloged and announced on private streams), the evaluator
replays windows 0 and 1 (window 2 is held back so a test can announce it live), and
uvicorn serves create_app() with PROSPECTOR_API_WEB_DIST pointing at
services/web/dist. The page is built by `make web` (make test does it first); the
fixture runs it too, so `pytest tests/web` alone works.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "services" / "web"
DIST = WEB / "dist"
ARTIFACTS = Path(os.environ.get("PROSPECTOR_WEB_ARTIFACTS", ROOT / "tests" / "web" / "artifacts"))
CHROMIUM = os.environ.get("PROSPECTOR_CHROMIUM", "/usr/bin/chromium")
REDIS_URL = os.environ.get("PROSPECTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EVAL_TICKS = 600  # replays of 600-tick episodes: a few hundred frames


# ---- the built page -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """services/web/dist, (re)built by `make web` (a no-op when it is up to date); one
    pytest-xdist worker at a time, so that two builds never share the output folder."""
    import fcntl

    with open(Path(tempfile.gettempdir()) / "prospector-web-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "-s", "web"], cwd=ROOT, check=True)
    assert (DIST / "index.html").is_file(), "make web did not produce services/web/dist/index.html"
    return DIST


# ---- a real run with real replays -------------------------------------------------------------


@dataclass(frozen=True)
class Belt:
    data_dir: Path
    run_id: str
    windows_stream: str
    replays_stream: str
    dead_stream: str
    prefix: str


def evaluate(belt: Belt) -> None:
    """The real evaluator works through everything announced on the belt's stream, then stops."""
    from prospector_common.catalog import Catalog
    from prospector_common.settings import Settings
    from prospector_evaluator.evaluate import EvalOptions
    from prospector_evaluator.service import Evaluator, ServiceConfig

    settings = Settings(data_dir=belt.data_dir, redis_url=REDIS_URL, wandb_mode="disabled")
    config = ServiceConfig(consumer_name=f"web-{uuid.uuid4().hex[:6]}",
                           options=EvalOptions(episodes=2, checkpoint_attempts=2, checkpoint_retry_s=0.05,
                                               env_overrides={"time_max": EVAL_TICKS}),
                           windows_stream=belt.windows_stream, dead_stream=belt.dead_stream,
                           replays_stream=belt.replays_stream, block_ms=100, claim_every_s=0.5,
                           claim_idle_ms=60_000, exit_when_idle=True, wandb=False, progress=False, catch_up=False)
    with Catalog(settings.database_url) as catalog:
        evaluator = Evaluator(settings, config, catalog=catalog)
        try:
            evaluator.run()
        finally:
            evaluator.close()


@pytest.fixture(scope="session")
def belt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Belt]:
    """Three trained windows (the tiny config); windows 0 and 1 evaluated (600-tick replays).

    Window 2's announcement is kept aside on `held:` so that a test can release it."""
    from prospector_common.ids import new_run_id
    from prospector_common.settings import Settings
    from prospector_trainer.config import load_config
    from prospector_trainer.service import ServiceOptions, TrainerService

    data_dir = tmp_path_factory.mktemp("web-belt") / "runs"
    data_dir.mkdir()
    tag = f"test:web:{uuid.uuid4().hex[:10]}"
    b = Belt(data_dir, new_run_id(git_sha="nogit"), f"{tag}:trained", f"{tag}:replays", f"{tag}:dead", tag)
    settings = Settings(data_dir=data_dir, redis_url=REDIS_URL, wandb_mode="disabled")
    # Short training episodes, so every window has finished episodes (its metrics); the
    # policy may not cash out or jettison, so the replays (600 ticks) show a real flight.
    cfg = load_config("tiny", ["env.time_max=48", "policy.action_masking=true", "policy.forbid_cash_out=true",
                               "policy.forbid_jettison=true"])
    cfg.run.data_dir = str(data_dir)
    TrainerService(cfg, ServiceOptions(grpc_port=None, metrics_port=None, wandb=False,
                                       database_url=settings.database_url, redis_url=REDIS_URL,
                                       stream=f"{tag}:all-windows")).train(run_id=b.run_id)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    entries = client.xrange(f"{tag}:all-windows")
    assert len(entries) == 3, entries
    for _, fields in entries[:2]:
        client.xadd(b.windows_stream, fields)
    client.xadd(f"{tag}:held", entries[2][1])
    evaluate(b)
    yield b
    keys = list(client.scan_iter(f"{tag}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    shutil.rmtree(data_dir, ignore_errors=True)


def release_held_window(belt: Belt) -> None:
    """Announce window 2 and evaluate it: its replays appear and are announced live."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    for _, fields in client.xrange(f"{belt.prefix}:held"):
        client.xadd(belt.windows_stream, fields)
    client.delete(f"{belt.prefix}:held")
    client.close()
    evaluate(belt)


# ---- the API, serving the page ---------------------------------------------------------------




def make_app(belt: Belt, dist: Path, **api_changes):
    """The real API over the belt's data, serving the built page; api_changes: more ApiSettings
    (e.g. pretrained_model, the model of /play's suggestions)."""
    from prospector_api.app import create_app
    from prospector_api.settings import ApiSettings
    from prospector_common.settings import Settings

    settings = Settings(data_dir=belt.data_dir, redis_url=REDIS_URL, wandb_mode="disabled")
    api = ApiSettings(session_prefix=f"{belt.prefix}:play", windows_stream=belt.windows_stream,
                      replays_stream=belt.replays_stream, events_block_ms=200, web_dist=dist, **api_changes)
    return create_app(settings, api)


@pytest.fixture(scope="session")
def server(belt: Belt, web_dist: Path) -> Iterator[LiveServer]:
    with LiveServer(make_app(belt, web_dist), start_timeout=15) as live:
        yield live


# ---- the browser ------------------------------------------------------------------------------


# Per module, not per session: while sync_playwright is open its event loop runs in this
# thread, and any later test in the same xdist worker that calls asyncio.run() fails.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make web` installs Debian's chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class PageProblems:
    """Console errors and uncaught exceptions of a page, collected while a test runs."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.failed_responses: list[str] = []  # which request a "Failed to load resource" error was
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: self.failed_responses.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400 else None)


@pytest.fixture
def page(browser, request):
    """A fresh laptop-sized page; its console errors are in page.problems (tests assert none)."""
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    pg = context.new_page()
    pg.problems = PageProblems(pg)
    yield pg
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot under tests/web/artifacts (gitignored) for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
