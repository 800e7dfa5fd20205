"""Fixtures for the API: real Redis (a private key prefix and private streams per test), real
catalogs (SQLite; PostgreSQL in a schema of its own), replays recorded by the real evaluator.

Nothing is mocked. The replays come from the evaluator service itself: a run
with real (untrained) policy checkpoints written by the trainer's code path,
announced on a private stream and evaluated by `Evaluator.run()`; that is done
once per test process and shared read-only.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from prospector import spec
from prospector_api.app import create_app
from prospector_api.settings import ApiSettings
from prospector_common.catalog import Catalog
from prospector_common.ids import new_run_id
from prospector_common.net import free_port  # noqa: F401 - the API tests import it from here
from prospector_common.outbox import dedupe_key
from prospector_common.settings import Settings
from prospector_common.storage import RunPaths
from prospector_common.streams import WindowAnnouncement

from live_server import LiveServer  # noqa: F401 - re-exported for the API tests

REDIS_URL = os.environ.get("PROSPECTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOADGEN = Path(os.environ.get("PROSPECTOR_GRPC_LOADGEN", Path(__file__).resolve().parents[2] / "build" / "grpc_loadgen"))


@pytest.fixture
def native_loadgen() -> Path:
    """build/grpc_loadgen, the native gRPC load generator of `prospector bench api`. `make test`
    does not build it (it apt-installs grpc++ and protoc): the tests that need it skip without it,
    unless PROSPECTOR_REQUIRE_LOADGEN is set (CI: .ci/run builds it with `make loadgen` first)."""
    if not LOADGEN.is_file():
        why = f"{LOADGEN} is not built: `make loadgen` builds it (apt-installs grpc++ and protoc; root)"
        if os.environ.get("PROSPECTOR_REQUIRE_LOADGEN"):
            pytest.fail(why)
        pytest.skip(why)
    return LOADGEN


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A private Redis namespace: sessions and streams of this test only, deleted afterwards."""
    tag = f"test:{uuid.uuid4().hex[:12]}"
    yield tag
    keys = list(redis_client.scan_iter(f"{tag}:*", count=1000))
    if keys:
        redis_client.delete(*keys)


def api_settings_for(prefix: str, **changes) -> ApiSettings:
    values = dict(session_prefix=f"{prefix}:play", windows_stream=f"{prefix}:windows",
                  replays_stream=f"{prefix}:replays", events_block_ms=200,
                  web_dist=Path("/nonexistent/web/dist"),
                  # the product's 0.5 s is for a served machine; a test shares two cores with a
                  # training test, and a connect once missed 0.5 s in CI (tests that want a short
                  # timeout set their own)
                  redis_timeout_s=5.0)
    values.update(changes)
    return ApiSettings(**values)


# ---- replays by the real evaluator (once per test process) ---------------------------------


@dataclass(frozen=True)
class Recorded:
    data_dir: Path
    run_id: str
    replay_ids: list[str]  # in catalog order
    other_run_id: str  # a second run with one window and no replays


def _write_checkpoint(paths: RunPaths, window_id: int, cfg) -> None:
    import torch
    from prospector_common.policy import checkpoint as ckpt
    from prospector_common.policy.network import make_policy
    from prospector_trainer.config import policy_kwargs

    torch.manual_seed(window_id)
    policy = make_policy(**policy_kwargs(cfg))
    path = paths.checkpoint(window_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt.save(path, {
        "run_id": paths.run_id, "window_id": window_id, "env_steps": (window_id + 1) * 1000, "epoch": window_id,
        "spec_version": spec.SPEC_VERSION, "config": cfg.to_dict(), "policy_kwargs": policy_kwargs(cfg),
        "policy_state_dict": policy.state_dict(),
        "optimizer_state_dict": torch.optim.Adam(policy.parameters()).state_dict(),
        "scheduler_state_dict": {}, "metrics": {"window_id": window_id},
    })


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    from prospector_evaluator.evaluate import EvalOptions
    from prospector_evaluator.service import Evaluator, ServiceConfig
    from prospector_trainer.config import load_config

    data_dir = tmp_path_factory.mktemp("api-recorded") / "runs"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, redis_url=REDIS_URL, wandb_mode="disabled")
    cfg = load_config("tiny", ["env.time_max=120"])
    tag = f"test:{uuid.uuid4().hex[:12]}"
    windows, dead, replays = f"{tag}:windows", f"{tag}:windows:dead", f"{tag}:replays"
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    with Catalog(settings.database_url) as catalog:
        catalog.create_all()
        run_id = new_run_id(git_sha="nogit")
        catalog.upsert_run(run_id, config=cfg.to_dict(), spec_version=spec.SPEC_VERSION, git_sha="nogit")
        paths = RunPaths(data_dir, run_id)
        paths.make_dirs()
        for w in range(2):
            _write_checkpoint(paths, w, cfg)
            metrics = {"window_id": w, "net_profit_mean": float(w)}
            relative = paths.relative(paths.checkpoint(w))
            catalog.add_window(run_id, w, env_steps_total=(w + 1) * 1000, checkpoint_path=relative, metrics=metrics)
            message = WindowAnnouncement(run_id=run_id, window_id=w, env_steps=(w + 1) * 1000,
                                         checkpoint_path=relative, metrics=metrics)
            client.xadd(windows, message.to_fields())
        other = new_run_id(git_sha="nogit")
        catalog.upsert_run(other, config=cfg.to_dict(), spec_version=spec.SPEC_VERSION, git_sha="nogit",
                           status="finished")
        catalog.add_window(other, 0, env_steps_total=10, checkpoint_path="x", metrics={"a": 1})
        config = ServiceConfig(consumer_name=f"test-{uuid.uuid4().hex[:6]}",
                               options=EvalOptions(episodes=2, checkpoint_attempts=2, checkpoint_retry_s=0.01),
                               windows_stream=windows, dead_stream=dead, replays_stream=replays, block_ms=100,
                               claim_every_s=0.2, claim_idle_ms=60_000, exit_when_idle=True, wandb=False,
                               progress=False, catch_up=False)
        evaluator = Evaluator(settings, config, catalog=catalog)
        try:
            evaluator.run()
        finally:
            evaluator.close()
        replay_ids = [r.replay_id for r in catalog.list_replays(run_id, limit=100).items]
    client.delete(windows, dead, replays, dedupe_key(windows), dedupe_key(replays))
    client.close()
    assert len(replay_ids) == 4, replay_ids  # 2 windows x 2 episodes
    yield Recorded(data_dir, run_id, replay_ids, other)
    shutil.rmtree(data_dir, ignore_errors=True)


# ---- the app ------------------------------------------------------------------------------


@pytest.fixture
def settings(recorded: Recorded) -> Settings:
    return Settings(data_dir=recorded.data_dir, redis_url=REDIS_URL, wandb_mode="disabled")


@pytest.fixture
def api_settings(prefix: str) -> ApiSettings:
    return api_settings_for(prefix)


@pytest.fixture
def client(settings: Settings, api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, api_settings)) as c:
        yield c


