"""`torchrun --nproc-per-node 2 -m prospector_trainer train`: one run, two data-parallel ranks
(gloo on CPU), for real: two processes, DDP over the tiny config, only rank 0 writing.

Every rank logs `rank R: final parameters DIGEST` at the end of a torchrun run (loop.train);
the tests compare rank 1's digest with rank 0's and with the checkpoint rank 0 wrote."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prospector_common.catalog import Catalog
from prospector_common.storage import RunPaths, read_jsonl

from prospector_common.policy.checkpoint import load, load_policy
from prospector_trainer.config import load_config
from prospector_trainer.distributed import parameter_digest
from prospector_trainer.loop import train

TORCHRUN = Path(sys.executable).with_name("torchrun")
RANKS = 2
DIGEST = re.compile(r"rank (\d+): final parameters ([0-9a-f]{16})")


def torchrun_train(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LOCAL_RANK", "RANK", "WORLD_SIZE")}
    env.update(PROSPECTOR_DATA_DIR=str(data_dir), REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens on 1
               COLUMNS="250")  # rich wraps log lines at the console width
    cmd = [str(TORCHRUN), "--standalone", f"--nproc-per-node={RANKS}", "-m", "prospector_trainer", "train",
           "--data-dir", str(data_dir), "--progress", "none", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def final_digests(done: subprocess.CompletedProcess) -> dict[int, str]:
    found = DIGEST.findall(done.stdout + done.stderr)
    assert len(found) == RANKS, found
    return {int(rank): digest for rank, digest in found}


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ddp")
    done = torchrun_train(data_dir, "--config", "tiny", "--no-grpc", "--no-metrics")
    (run_dir,) = [p for p in data_dir.iterdir() if p.is_dir()]
    return RunPaths(data_dir, run_dir.name), done


def test_two_ranks_make_one_run_with_one_checkpoint_and_one_row_per_window(ddp_run):
    paths, _ = ddp_run
    assert [p.name for p in paths.data_dir.iterdir() if p.is_dir()] == [paths.run_id]
    assert paths.checkpoint_window_ids() == [0, 1, 2]
    assert [r["window_id"] for r in read_jsonl(paths.metrics_file)] == [0, 1, 2]
    with Catalog(f"sqlite:///{paths.data_dir / 'catalog.sqlite'}") as catalog:
        assert [(r.run_id, r.status) for r in catalog.list_runs()] == [(paths.run_id, "finished")]
        assert [w.window_id for w in catalog.list_windows(paths.run_id)] == [0, 1, 2]


def test_rows_count_the_env_steps_and_episodes_of_both_ranks(ddp_run, tiny_run):
    paths, _ = ddp_run
    cfg, _, single_paths = tiny_run
    rows = read_jsonl(paths.metrics_file)
    window = cfg.run.window_env_steps
    assert [r["env_steps_total"] for r in rows] == [window, 2 * window, 3 * window]
    # each rank ran half the epochs a single process runs for the same env steps
    last = load(paths.checkpoint(2))
    assert last["world_size"] == RANKS and last["env_steps"] == 3 * window
    assert last["epoch"] == 3 * window // (RANKS * cfg.batch_size)
    # episodes finish at the same rate per env step as in one process, so a row that
    # held only rank 0's episodes would have about half as many (and double counting twice)
    episodes = sum(r["episodes_in_window"] for r in rows)
    single = sum(r["episodes_in_window"] for r in read_jsonl(single_paths.metrics_file))
    assert 0.7 * single < episodes < 1.4 * single, (episodes, single)
    for r in rows:
        assert r["steps_per_second"] > 0 and r["net_profit_median"] is not None
        assert isinstance(r["policy_loss"], float)


def test_both_ranks_end_with_the_weights_of_the_last_checkpoint(ddp_run):
    paths, done = ddp_run
    digests = final_digests(done)
    policy, data = load_policy(paths.checkpoint(2))  # a plain state dict: no DDP "module." prefix
    assert digests == {0: parameter_digest(policy.state_dict()), 1: parameter_digest(policy.state_dict())}
    assert parameter_digest(load(paths.checkpoint(0))["policy_state_dict"]) != digests[0]  # it trained


def test_resume_under_torchrun_starts_every_rank_from_the_same_checkpoint(ddp_run, tmp_path):
    paths, _ = ddp_run
    shutil.copytree(paths.run_dir, tmp_path / paths.run_id)
    copy = RunPaths(tmp_path, paths.run_id)
    # as if the run had died after window 1: window 2 is trained again from ckpt_1
    copy.checkpoint(2).unlink()
    copy.metrics_file.write_text("".join(copy.metrics_file.read_text().splitlines(keepends=True)[:2]))
    done = torchrun_train(tmp_path, "--resume", paths.run_id, "--grpc-port", "0", "--metrics-port", "0")
    log = done.stdout + done.stderr
    assert log.count("trainer gRPC on port") == 1 and log.count("trainer metrics on") == 1  # rank 0 only
    assert copy.checkpoint_window_ids() == [0, 1, 2]
    assert [r["window_id"] for r in read_jsonl(copy.metrics_file)] == [0, 1, 2]
    again = load(copy.checkpoint(2))
    assert again["env_steps"] == load(paths.checkpoint(2))["env_steps"]
    digests = final_digests(done)
    assert digests[0] == digests[1] == parameter_digest(again["policy_state_dict"])
    # the ranks restarted their games from other seeds: window 2 was not replayed
    assert digests[0] != parameter_digest(load(paths.checkpoint(2))["policy_state_dict"])


def test_resuming_with_another_number_of_ranks_is_refused(ddp_run, tmp_path):
    paths, _ = ddp_run
    shutil.copytree(paths.run_dir, tmp_path / paths.run_id)
    cfg = load_config("tiny", [f'run.data_dir="{tmp_path}"'])
    with pytest.raises(ValueError, match=r"trained with 2 rank\(s\); resume it with as many"):
        train(cfg, resume=paths.run_id)
