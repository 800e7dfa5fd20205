"""Fixtures for the evaluator: real Redis (private stream names per test), real catalogs, real checkpoints.

Nothing is mocked. Each test gets its own data dir (with its SQLite catalog),
its own stream names (deleted afterwards, with their dedupe sets), so the
tests are safe under pytest-xdist. Checkpoints are written by the trainer's
own code path (prospector_common.policy.checkpoint.save, or a real tiny training run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import torch
from prospector import spec
from prospector_common.catalog import Catalog
from prospector_common.ids import new_run_id
from prospector_common.outbox import dedupe_key
from prospector_common.settings import Settings
from prospector_common.storage import RunPaths
from prospector_common.streams import WindowAnnouncement
from prospector_evaluator.evaluate import EvalOptions
from prospector_evaluator.service import Evaluator, ServiceConfig
from private_redis import PrivateRedis  # noqa: F401 - tests/private_redis.py; the evaluator's outage tests use it

REDIS_URL = os.environ.get("PROSPECTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Streams:
    windows: str
    dead: str
    replays: str
    group: str = "evaluators"


@pytest.fixture
def streams(redis_client: redis.Redis) -> Iterator[Streams]:
    tag = uuid.uuid4().hex[:12]
    s = Streams(f"test:{tag}:prospector:windows", f"test:{tag}:prospector:windows:dead",
                f"test:{tag}:prospector:replays")
    yield s
    redis_client.delete(s.windows, s.dead, s.replays, dedupe_key(s.replays), dedupe_key(s.windows))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, redis_url=REDIS_URL, wandb_mode="disabled")


@pytest.fixture
def catalog(settings: Settings) -> Iterator[Catalog]:
    with Catalog(settings.database_url) as cat:
        cat.create_all()
        yield cat


def service_config(streams: Streams, **changes) -> ServiceConfig:
    """A fast service config on the test's private streams."""
    options = changes.pop("options", EvalOptions(episodes=2, checkpoint_attempts=2, checkpoint_retry_s=0.01))
    values = dict(consumer_name=f"test-{uuid.uuid4().hex[:6]}", options=options, windows_stream=streams.windows,
                  dead_stream=streams.dead, replays_stream=streams.replays, block_ms=100, claim_every_s=0.2,
                  claim_idle_ms=60_000, exit_when_idle=True, wandb=False, progress=False,
                  backoff_initial_s=0.05, backoff_max_s=0.2)
    values.update(changes)
    return ServiceConfig(**values)


def make_evaluator(settings: Settings, streams: Streams, catalog: Catalog | None = None, **changes) -> Evaluator:
    return Evaluator(settings, service_config(streams, **changes), catalog=catalog)


def run_until_idle(settings: Settings, streams: Streams, catalog: Catalog | None = None, **changes) -> Evaluator:
    """An evaluator works through everything announced (and, with catch_up, the catalog), then
    closes; returned for its status and metrics."""
    evaluator = make_evaluator(settings, streams, catalog, **changes)
    try:
        evaluator.run()
    finally:
        evaluator.close()
    return evaluator


# ---- runs, windows, checkpoints -------------------------------------------------------------


def train_config(time_max: int = 200):
    from prospector_trainer.config import load_config

    return load_config("tiny", [f"env.time_max={time_max}"])


def write_checkpoint(paths: RunPaths, window_id: int, cfg, *, hold: bool = False, seed: int = 0) -> Path:
    """A real checkpoint through the trainer's code path; `hold` makes the greedy policy always HOLD."""
    from prospector_common.policy import checkpoint as ckpt
    from prospector_common.policy.network import make_policy
    from prospector_trainer.config import policy_kwargs

    torch.manual_seed(seed + window_id)
    policy = make_policy(**policy_kwargs(cfg))
    if hold:
        with torch.no_grad():
            policy.actor.weight.zero_()
            policy.actor.bias.zero_()
            policy.actor.bias[spec.A_HOLD] = 10.0
    optimizer = torch.optim.Adam(policy.parameters())
    path = paths.checkpoint(window_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt.save(path, {
        "run_id": paths.run_id, "window_id": window_id, "env_steps": (window_id + 1) * 1000, "epoch": window_id,
        "spec_version": spec.SPEC_VERSION, "config": cfg.to_dict(), "policy_kwargs": policy_kwargs(cfg),
        "policy_state_dict": policy.state_dict(), "optimizer_state_dict": optimizer.state_dict(),
        "scheduler_state_dict": {}, "metrics": {"window_id": window_id},
    })
    return path


def add_run(catalog: Catalog, data_dir: Path, cfg, run_id: str | None = None) -> RunPaths:
    run_id = run_id or new_run_id(git_sha="nogit")
    catalog.upsert_run(run_id, config=cfg.to_dict(), spec_version=spec.SPEC_VERSION, git_sha="nogit")
    paths = RunPaths(data_dir, run_id)
    paths.make_dirs()
    return paths


def add_window(catalog: Catalog, paths: RunPaths, window_id: int) -> WindowAnnouncement:
    """Catalog the window (as the trainer does) and return its announcement."""
    metrics = {"window_id": window_id, "net_profit_mean": 0.0}
    relative = paths.relative(paths.checkpoint(window_id))
    catalog.add_window(paths.run_id, window_id, env_steps_total=(window_id + 1) * 1000,
                       checkpoint_path=relative, metrics=metrics)
    return WindowAnnouncement(run_id=paths.run_id, window_id=window_id, env_steps=(window_id + 1) * 1000,
                              checkpoint_path=relative, metrics=metrics)


def make_run(catalog: Catalog, data_dir: Path, n_windows: int, *, time_max: int = 200, hold: bool = False,
             checkpoints: bool = True) -> tuple[RunPaths, list[WindowAnnouncement]]:
    cfg = train_config(time_max)
    paths = add_run(catalog, data_dir, cfg)
    messages = []
    for w in range(n_windows):
        if checkpoints:
            write_checkpoint(paths, w, cfg, hold=hold)
        messages.append(add_window(catalog, paths, w))
    return paths, messages


def announce(client: redis.Redis, stream: str, message: WindowAnnouncement) -> str:
    return client.xadd(stream, message.to_fields())
