"""The trainer end to end on the tiny config: windows, checkpoints, metrics rows, resume."""

import hashlib
import json

import pytest
import torch
from prospector_common.ids import new_run_id
from prospector_common.storage import RunPaths, read_jsonl

from prospector_common.policy.checkpoint import CheckpointError, load, load_policy
from prospector_trainer.config import load_config
from prospector.spec import EnvConfig
from prospector_trainer.env import batches
from prospector_trainer.loop import start_run, train
from prospector_trainer.episode_stats import ROW_KEYS
from prospector_common.policy.network import make_policy


def test_tiny_run_writes_three_windows_of_checkpoints_and_metrics(tiny_run):
    cfg, run, paths = tiny_run
    assert paths.checkpoint_window_ids() == [0, 1, 2]
    rows = read_jsonl(paths.metrics_file)
    assert [r["window_id"] for r in rows] == [0, 1, 2]
    steps = [r["env_steps_total"] for r in rows]
    assert steps == sorted(steps) and len(set(steps)) == 3
    assert steps[-1] >= cfg.run.total_env_steps
    record = json.loads(paths.run_json.read_text())
    assert record["run_id"] == run.run_id and record["config"] == cfg.to_dict()


def test_metrics_rows_have_exactly_the_documented_keys(tiny_run):
    _, run, paths = tiny_run
    for row in read_jsonl(paths.metrics_file):
        assert tuple(row) == ROW_KEYS
        assert row["run_id"] == run.run_id
        assert row["episodes_in_window"] > 0  # a fresh policy cashes out early and often
        assert 0.0 <= row["survival_rate"] <= 1.0 and 0.0 <= row["invalid_action_rate"] <= 1.0
        assert row["steps_per_second"] > 0 and row["wall_time"] > 0
        for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "explained_variance"):
            assert isinstance(row[k], float)


def test_checkpoints_load_into_a_fresh_policy(tiny_run):
    cfg, run, paths = tiny_run
    for w in (0, 1, 2):
        data = load(paths.checkpoint(w))
        assert data["window_id"] == w and data["run_id"] == run.run_id
        assert data["config"] == cfg.to_dict() and data["spec_version"] >= 1
        assert data["optimizer_state_dict"]["state"]
        fresh = make_policy(**data["policy_kwargs"])
        fresh.load_state_dict(data["policy_state_dict"])
    policy, data = load_policy(paths.checkpoint(2))
    for (name, a), b in zip(policy.state_dict().items(), run.policy.state_dict().values()):
        assert torch.equal(a, b), name
    assert data["env_steps"] == run.pufferl.global_step


def copy_run(tiny_run, tmp_path):
    import shutil

    _, _, paths = tiny_run
    shutil.copytree(paths.run_dir, tmp_path / paths.run_id)
    return RunPaths(tmp_path, paths.run_id)


def test_resume_continues_with_the_next_window(tiny_run, tmp_path):
    cfg, _, _ = tiny_run
    paths = copy_run(tiny_run, tmp_path)
    last = load(paths.checkpoint(2))
    more = cfg.run.total_env_steps + 2 * cfg.run.window_env_steps
    run = train(cfg, resume=paths.run_id, overrides=[f'run.data_dir="{tmp_path}"', f"run.total_env_steps={more}"])
    assert [w["window_id"] for w in run.windows_done] == [3, 4]
    rows = read_jsonl(paths.metrics_file)
    assert [r["window_id"] for r in rows] == [0, 1, 2, 3, 4]
    steps = [r["env_steps_total"] for r in rows]
    assert steps == sorted(steps) and steps[3] > last["env_steps"]
    assert paths.checkpoint_window_ids() == [0, 1, 2, 3, 4]
    assert load(paths.checkpoint(4))["env_steps"] >= more
    assert len(json.loads(paths.run_json.read_text())["resumes"]) == 1


def test_resume_restores_a_metrics_row_lost_between_checkpoint_and_append(tiny_run, tmp_path):
    cfg, _, _ = tiny_run
    paths = copy_run(tiny_run, tmp_path)
    lines = paths.metrics_file.read_text().splitlines(keepends=True)
    paths.metrics_file.write_text("".join(lines[:2]))  # the run died after ckpt_2, before its row
    more = cfg.run.total_env_steps + cfg.run.window_env_steps
    train(cfg, resume=paths.run_id, overrides=[f'run.data_dir="{tmp_path}"', f"run.total_env_steps={more}"])
    assert [r["window_id"] for r in read_jsonl(paths.metrics_file)] == [0, 1, 2, 3]


def digest(root):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_resume_from_a_damaged_checkpoint_names_the_file_and_touches_nothing(tiny_run, tmp_path, damage):
    cfg, _, _ = tiny_run
    paths = copy_run(tiny_run, tmp_path)
    ckpt = paths.checkpoint(2)
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00not a checkpoint" * 50, "empty": b""}[damage])
    before = digest(paths.run_dir)
    with pytest.raises(CheckpointError, match=str(ckpt)):
        train(cfg, resume=paths.run_id, overrides=[f'run.data_dir="{tmp_path}"', "run.total_env_steps=10000000"])
    assert digest(paths.run_dir) == before


def test_resume_of_an_unknown_run_is_a_clear_error(tmp_path):
    cfg = load_config("tiny", [f'run.data_dir="{tmp_path}"'])
    run_id = new_run_id()
    with pytest.raises(CheckpointError, match=f"no run {run_id}"):
        train(cfg, resume=run_id)


def test_a_new_run_never_overwrites_an_existing_one(tiny_run):
    cfg, _, paths = tiny_run
    with pytest.raises(FileExistsError, match=f"--resume {paths.run_id}"):
        train(cfg, run_id=paths.run_id)


def test_run_ids_from_outside_are_validated(tmp_path):
    cfg = load_config("tiny", [f'run.data_dir="{tmp_path}"'])
    with pytest.raises(ValueError, match="run_id '../escape' contains"):
        train(cfg, run_id="../escape")
    with pytest.raises(ValueError, match="run_id 'a/b' contains"):
        train(cfg, resume="a/b")
    with pytest.raises(ValueError, match="does not match"):
        train(cfg, run_id="tiny-run")


def test_schedule_switches_new_episodes_at_the_window_boundary_and_on_resume(tmp_path):
    """A curriculum: stage 1 for window 0, the full game from window 1 on; a resumed run
    starts its envs in the stage of its env steps."""
    sched = ["env.curriculum=1", "env.schedule=[{from_env_steps=16384, curriculum=5, time_max=1500}]",
             f'run.data_dir="{tmp_path}"', "run.total_env_steps=32768"]
    cfg = load_config("tiny", sched)
    run = train(cfg, run_id=new_run_id())
    (batch,) = batches(run.pufferl.vecenv)
    assert batch.config == EnvConfig(time_max=1500)
    assert json.loads(run.paths.metrics_file.read_text().splitlines()[1])["window_id"] == 1
    more = [*sched[:-1], "run.total_env_steps=49152"]
    resumed = start_run(load_config("tiny", more), resume=run.run_id, overrides=more)
    try:
        (batch,) = batches(resumed.pufferl.vecenv)
        assert {batch.engine(i).config for i in range(len(batch))} == {EnvConfig(time_max=1500)}
    finally:
        resumed.close()


def test_entropy_schedule_reaches_puffer_window_by_window(tmp_path):
    over = [f'run.data_dir="{tmp_path}"', "run.total_env_steps=49152", "ppo.ent_coef=0.01",
            "ppo.ent_coef_final=0.0", "ppo.ent_anneal_from_env_steps=0"]
    run = train(load_config("tiny", over), run_id=new_run_id())
    # window 2 starts at 2/3 of the run: a third of the bonus is left
    assert run.pufferl.config["ent_coef"] == pytest.approx(0.01 / 3, rel=0.05)
