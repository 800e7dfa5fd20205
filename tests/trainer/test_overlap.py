"""ppo.overlap: the next batch is collected on a second thread while the learner trains."""

import threading

import pytest
import torch
from prospector_common.ids import new_run_id
from prospector_common.storage import RunPaths, read_jsonl

from prospector_trainer.config import load_config
from prospector_trainer.loop import start_run, train
from prospector_trainer.overlap import BUFFERS


def _cfg(tmp_path, *overrides):
    return load_config("tiny", [f'run.data_dir="{tmp_path}"', "ppo.overlap=true", *overrides])


def _epochs_watching_train(run, env_steps: int, watch) -> None:
    """run's epochs up to env_steps, calling watch() each time the learner starts to train."""
    p = run.pufferl
    real_train = p.train

    def train_and_watch():
        watch()
        return real_train()

    p.train = train_and_watch
    try:
        while run.env_steps < env_steps:
            run.epoch(env_steps)
    finally:
        run.close()


def test_an_overlapped_run_counts_every_step_once_and_writes_every_window(tmp_path):
    cfg = _cfg(tmp_path)
    run = train(cfg, run_id=new_run_id())
    rows = read_jsonl(RunPaths(tmp_path, run.run_id).metrics_file)
    assert [r["window_id"] for r in rows] == [0, 1, 2]
    # each window is whole batches: 2 epochs of 256 envs x 32 steps, no batch counted twice or lost
    assert [r["env_steps_total"] for r in rows] == [16384, 32768, 49152]
    assert all(r["episodes_in_window"] >= 0 for r in rows)
    assert run.collector is not None and not run.collector.busy


def test_the_learner_trains_on_the_background_batch_while_the_next_one_is_collected(tmp_path):
    cfg = _cfg(tmp_path, "run.window_env_steps=40960", "run.total_env_steps=40960")
    run = start_run(cfg, run_id=new_run_id())
    p = run.pufferl
    seen = []

    def watch():
        # while the learner trains, the collector thread is alive and writing into other buffers
        seen.append((run.collector.busy, {n: getattr(p, n).data_ptr() for n in BUFFERS},
                     {n: getattr(run.collector.collector, n).data_ptr() for n in BUFFERS},
                     threading.active_count()))

    _epochs_watching_train(run, 40960, watch)
    assert run.env_steps == 40960  # 5 batches of 8192
    busy = [b for b, *_ in seen]
    assert busy == [True, True, True, True, False]  # no batch in flight past the window's end
    for _, learner, collector, _ in seen[:-1]:
        assert set(learner.values()).isdisjoint(collector.values())  # two buffer sets, never shared
    # the buffers are swapped, not copied: what the learner had, the collector fills next
    assert seen[1][1]["observations"] == seen[0][2]["observations"]


def test_the_acting_copy_gets_the_learners_weights_at_each_start(tmp_path):
    cfg = _cfg(tmp_path, "run.window_env_steps=40960", "run.total_env_steps=40960")
    run = start_run(cfg, run_id=new_run_id())
    try:
        run.epoch(40960)  # learns once: the weights move
        run.collector.finish()
        learner = run.policy.state_dict()
        acting = run.collector.acting_policy.state_dict()
        # the copy acted with the weights from before that update
        assert any(not torch.equal(learner[k], acting[k]) for k in learner)
        run.collector.start()
        acting = run.collector.acting_policy.state_dict()
        assert all(torch.equal(learner[k], acting[k]) for k in learner)
        assert not any(t.requires_grad for t in run.collector.acting_policy.parameters())
    finally:
        run.close()


def test_an_error_in_the_collector_thread_reaches_the_trainer(tmp_path):
    run = start_run(_cfg(tmp_path), run_id=new_run_id())
    try:
        def broken(*_a, **_k):
            raise RuntimeError("engine went away")
        run.collector.acting_policy.forward_eval = broken
        run.collector.start()
        with pytest.raises(RuntimeError, match="engine went away"):
            run.collector.finish()
        assert not run.collector.busy
    finally:
        run.close()


def test_overlap_is_refused_for_the_lstm_policy_and_leaves_no_thread_running(tmp_path):
    from pufferlib.pufferl import Utilization

    with pytest.raises(ValueError, match="mlp policy only"):
        start_run(_cfg(tmp_path, "policy.kind=lstm"), run_id=new_run_id())
    # PuffeRL's utilization thread is not a daemon: left running, it keeps the process alive
    left = [t for t in threading.enumerate() if isinstance(t, Utilization)]
    for t in left:
        t.join(timeout=3.0)
    assert not [t for t in left if t.is_alive()]


def test_overlap_starts_once_the_run_reaches_overlap_from_env_steps(tmp_path):
    # 5 batches of 8192: serial while fewer than 16384 env steps are done, overlapped after
    cfg = _cfg(tmp_path, "run.window_env_steps=40960", "run.total_env_steps=40960",
               "ppo.overlap_from_env_steps=16384")
    run = start_run(cfg, run_id=new_run_id())
    busy_while_learning = []
    _epochs_watching_train(run, 40960, lambda: busy_while_learning.append(run.collector.busy))
    assert run.env_steps == 40960
    # after batch 1 (8192 steps) still serial; from batch 2 (16384) on, the next batch is collected
    # meanwhile, except after the window's last
    assert busy_while_learning == [False, True, True, True, False]
