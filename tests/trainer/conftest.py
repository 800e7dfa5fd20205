"""The tiny 3-window run, shared by the trainer tests (they copy it before changing it), and the
shared package's fixtures for real databases and Redis (one home: tests/common/conftest.py)."""

import pytest
from common.conftest import (  # noqa: F401  (fixtures, registered by import)
    REDIS_URL,
    PrivateRedis,
    catalog_url,
    private_redis,
    redis_client,
    stream_name,
)
from prospector_common.ids import new_run_id
from prospector_common.storage import RunPaths

from prospector_trainer.config import load_config
from prospector_trainer.loop import train


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("runs")
    cfg = load_config("tiny", [f'run.data_dir="{data_dir}"'])
    run = train(cfg, run_id=new_run_id())
    return cfg, run, RunPaths(data_dir, run.run_id)
