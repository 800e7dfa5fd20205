"""The tiny 3-window run, shared by the trainer tests (they copy it before changing it)."""

import pytest

from prospector_trainer.config import load_config
from prospector_trainer.loop import train
from prospector_trainer.storage import RunPaths


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("runs")
    cfg = load_config("tiny", [f'run.data_dir="{data_dir}"'])
    run = train(cfg, run_id="tiny-run")
    return cfg, run, RunPaths(data_dir, "tiny-run")
