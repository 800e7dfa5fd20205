"""run.init_weights: a new run starts from the weights of a policy file."""

import pytest
import torch
from prospector_common.ids import new_run_id
from prospector_common.storage import RunPaths

from prospector_trainer.config import load_config
from prospector_trainer.loop import start_run, train


def _cfg(tmp_path, *overrides):
    return load_config("tiny", [f'run.data_dir="{tmp_path}"', *overrides])


def test_a_new_run_starts_from_the_weights_of_init_weights(tmp_path):
    first = train(_cfg(tmp_path / "a", "run.total_env_steps=16384"), run_id=new_run_id())
    checkpoint = RunPaths(tmp_path / "a", first.run_id).checkpoint(0)
    run = start_run(_cfg(tmp_path / "b", f'run.init_weights="{checkpoint}"', "run.seed=99"), run_id=new_run_id())
    try:
        for name, value in first.policy.state_dict().items():
            assert torch.equal(run.policy.state_dict()[name], value), name
    finally:
        run.close()
    with pytest.raises(ValueError, match="init_weights.*not weights for this run's policy"):
        start_run(_cfg(tmp_path / "c", f'run.init_weights="{checkpoint}"', "policy.hidden_size=64"), run_id=new_run_id())
