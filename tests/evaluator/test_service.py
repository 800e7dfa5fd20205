"""The evaluator service against the real Redis and real catalogs (SQLite, and PostgreSQL once)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from prospector_common.catalog import EVAL_DONE, EVAL_FAILED, TAG_BEST_SO_FAR, TAG_EVERY_WINDOW, Catalog
from prospector_common.settings import Settings
from prospector_common.streams import ReplayAnnouncement
from prospector_evaluator.evaluate import EvalOptions, episode_seeds
from prospector_evaluator.service import Evaluator
from prospector_common.replay import read_frames, read_header, verify

from .conftest import REDIS_URL, announce, make_evaluator, make_run, run_until_idle


def every_window(catalog: Catalog, run_id: str) -> list:
    return catalog.list_replays(run_id, tag=TAG_EVERY_WINDOW, limit=1000).items


def all_replays(catalog: Catalog, run_id: str) -> list:
    return catalog.list_replays(run_id, limit=1000).items


def pending(redis_client, streams) -> int:
    return redis_client.xpending(streams.windows, streams.group)["pending"]


def test_announced_windows_become_verified_cataloged_announced_and_acked_replays(
        settings, catalog, streams, redis_client):
    paths, messages = make_run(catalog, settings.data_dir, 3)
    for m in messages:
        announce(redis_client, streams.windows, m)
    evaluator = run_until_idle(settings, streams, catalog, catch_up=False)

    run_id = paths.run_id
    ew = every_window(catalog, run_id)
    assert sorted(r.window_id for r in ew) == [0, 1, 2]
    replays = all_replays(catalog, run_id)
    assert len(replays) == 3 * 2  # 2 episodes per window in the test config
    for r in replays:
        path = settings.data_dir / r.path
        assert path.is_file() and path == paths.replay(r.replay_id)
        header = read_header(path)
        assert (header["run_id"], header["window_id"], header["replay_id"]) == (run_id, r.window_id, r.replay_id)
        assert header["env_config"]["reward_mode"] == "sparse" and header["policy"]["mode"] == "greedy"
        assert r.seed in episode_seeds(run_id, r.window_id, 2)
    for r in ew:
        assert r.seed == episode_seeds(run_id, r.window_id, 1)[0]
        assert verify(settings.data_dir / r.path).ok
    for w in range(3):
        assert catalog.get_window(run_id, w).eval_status == EVAL_DONE
    # tags: the run's first cataloged replay is its best so far; a milestone belongs to one replay
    tags = [t for r in replays for t in r.tags]
    assert tags.count(TAG_BEST_SO_FAR) >= 1
    for t in set(tags):
        if t.startswith("milestone:"):
            assert tags.count(t) == 1
    # announced on the replays stream, once each; the window entries acknowledged
    entries = redis_client.xrange(streams.replays)
    announced = [ReplayAnnouncement.from_fields(f) for _, f in entries]
    assert sorted(a.replay_id for a in announced) == sorted(r.replay_id for r in replays)
    assert pending(redis_client, streams) == 0
    assert evaluator.status["windows_done"] == 3 and evaluator.status["replays_written"] == 6
    assert evaluator.metrics.windows._value.get() == 3


def test_a_redelivered_window_never_gets_a_second_every_window_replay(settings, catalog, streams, redis_client):
    paths, messages = make_run(catalog, settings.data_dir, 1)
    announce(redis_client, streams.windows, messages[0])
    announce(redis_client, streams.windows, messages[0])  # the same fact twice
    evaluator = make_evaluator(settings, streams, catalog, catch_up=False)
    try:
        evaluator.run()
        # and once more directly, as a redelivery after a crash before XACK would
        again = evaluator.evaluate(paths.run_id, 0)
    finally:
        evaluator.close()
    assert again.already_done
    assert len(every_window(catalog, paths.run_id)) == 1
    assert len(all_replays(catalog, paths.run_id)) == 2
    assert len(redis_client.xrange(streams.replays)) == 2  # announced exactly once each
    assert pending(redis_client, streams) == 0


def test_a_corrupt_checkpoint_is_dead_lettered_with_its_reason_and_the_service_goes_on(
        settings, catalog, streams, redis_client):
    paths, messages = make_run(catalog, settings.data_dir, 3)
    paths.checkpoint(1).write_bytes(b"this is not a torch file")
    paths.checkpoint(2).unlink()
    for m in messages:
        announce(redis_client, streams.windows, m)
    evaluator = run_until_idle(settings, streams, catalog, catch_up=False)
    dead = redis_client.xrange(streams.dead)
    assert len(dead) == 2
    reasons = {int(f["window_id"]): f["dead_reason"] for _, f in dead}
    assert "ckpt_1.pt" in reasons[1] and "corrupt" in reasons[1] and "2 attempts" in reasons[1]
    assert "ckpt_2.pt" in reasons[2] and "does not exist" in reasons[2]
    assert catalog.get_window(paths.run_id, 1).eval_status == EVAL_FAILED
    assert "ckpt_1.pt" in catalog.get_window(paths.run_id, 1).eval_error
    assert [r.window_id for r in every_window(catalog, paths.run_id)] == [0]
    assert pending(redis_client, streams) == 0
    assert evaluator.status["failures"] == 2
    # failed windows are not caught up again on the next start
    assert catalog.windows_without_replay(paths.run_id) == []


def test_a_malformed_entry_is_dead_lettered(settings, catalog, streams, redis_client):
    redis_client.xadd(streams.windows, {"v": "1", "run_id": "../../etc", "window_id": "0"})
    run_until_idle(settings, streams, catalog, catch_up=False)
    (_, fields), = redis_client.xrange(streams.dead)
    assert "malformed" in fields["dead_reason"]
    assert pending(redis_client, streams) == 0


def test_windows_announced_while_no_evaluator_ran_are_caught_up_on_start(settings, catalog, streams, redis_client):
    paths, _ = make_run(catalog, settings.data_dir, 2)  # in the catalog, never announced
    run_until_idle(settings, streams, catalog)
    assert sorted(r.window_id for r in every_window(catalog, paths.run_id)) == [0, 1]
    assert len(redis_client.xrange(streams.replays)) == 4


def test_the_service_works_on_postgresql(postgres_url, data_dir, streams, redis_client):
    settings = Settings(data_dir=data_dir, database_url=postgres_url, redis_url=REDIS_URL, wandb_mode="disabled")
    with Catalog(postgres_url) as catalog:
        catalog.create_all()
        paths, messages = make_run(catalog, data_dir, 2)
        for m in messages:
            announce(redis_client, streams.windows, m)
        run_until_idle(settings, streams, catch_up=False)
        assert sorted(r.window_id for r in every_window(catalog, paths.run_id)) == [0, 1]
        assert all(verify(data_dir / r.path).ok for r in every_window(catalog, paths.run_id))


def test_two_evaluators_at_once_split_the_work_without_duplicates(settings, catalog, streams, redis_client):
    paths, messages = make_run(catalog, settings.data_dir, 4)
    for m in messages:
        announce(redis_client, streams.windows, m)
    evaluators = [make_evaluator(settings, streams, catch_up=False) for _ in range(2)]
    threads = [threading.Thread(target=e.run) for e in evaluators]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for e in evaluators:
            e.close()
    assert sorted(r.window_id for r in every_window(catalog, paths.run_id)) == [0, 1, 2, 3]
    assert len(all_replays(catalog, paths.run_id)) == 8
    assert sum(e.status["windows_done"] for e in evaluators) == 4
    assert len(redis_client.xrange(streams.replays)) == 8
    assert pending(redis_client, streams) == 0


def test_on_demand_evaluation_with_other_options_adds_replays_but_no_second_every_window(
        settings, catalog, streams):
    paths, _ = make_run(catalog, settings.data_dir, 1)
    evaluator = make_evaluator(settings, streams, catalog)
    try:
        first = evaluator.evaluate(paths.run_id, 0)
        sampled = evaluator.evaluate(paths.run_id, 0, EvalOptions(episodes=1, sample=True, force=True))
    finally:
        evaluator.close()
    assert not first.already_done and len(first.replays) == 2
    assert len(sampled.replays) == 1 and TAG_EVERY_WINDOW not in sampled.replays[0].tags
    assert read_header(settings.data_dir / sampled.replays[0].path)["policy"]["mode"] == "sample"
    assert len(every_window(catalog, paths.run_id)) == 1


def test_a_policy_with_a_greedy_head_is_played_by_it_even_when_sampling_is_asked(settings, catalog, streams):
    """The head is the policy's own way to play greedily: its replays say so, and differ from the
    plain argmax's when the head changes the choices."""
    import numpy as np
    from prospector_common.policy import checkpoint as ckpt
    from prospector_common.policy.greedy import N_READINGS, GreedyHead
    from prospector import spec

    paths, _ = make_run(catalog, settings.data_dir, 1)
    evaluator = make_evaluator(settings, streams, catalog)
    try:
        plain = evaluator.evaluate(paths.run_id, 0, EvalOptions(episodes=1))
        head = GreedyHead.zero()
        head.W[N_READINGS - 1, spec.A_EMERGENCY_BURN] = 1e4  # burn while there is fuel: no plain argmax does
        data = ckpt.load(paths.checkpoint(0))
        ckpt.save(paths.checkpoint(0), {**data, "greedy_head": head.state_dict()})
        headed = evaluator.evaluate(paths.run_id, 0, EvalOptions(episodes=1, sample=True, force=True))
    finally:
        evaluator.close()
    header = read_header(settings.data_dir / headed.replays[0].path)
    assert header["policy"]["mode"] == "greedy_head"
    assert read_header(settings.data_dir / plain.replays[0].path)["policy"]["mode"] == "greedy"
    burns = [sum(f["action"] == spec.A_EMERGENCY_BURN for f in read_frames(settings.data_dir / r.replays[0].path))
             for r in (plain, headed)]
    assert burns[1] > burns[0]
    assert np.isfinite(headed.replays[0].net_profit)


@contextmanager
def evaluator_catching_up(settings: Settings, streams, catalog: Catalog,
                          **changes) -> Iterator[tuple[Evaluator, threading.Thread]]:
    """An evaluator serving in a thread with a catch-up every 0.1 s of every window, once idle;
    changes: more ServiceConfig fields."""
    evaluator = make_evaluator(settings, streams, catalog, exit_when_idle=False, catch_up_every_s=0.1,
                               catch_up_min_age_s=0.0, **changes)
    stop = threading.Event()
    thread = threading.Thread(target=evaluator.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: evaluator.status["state"] == "idle")
        yield evaluator, thread
    finally:
        stop.set()
        thread.join(30)
        evaluator.close()


def wait_until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_window_cataloged_but_never_announced_is_caught_up_while_the_evaluator_runs(
        settings, catalog, streams, redis_client):
    """Not only on start: an evaluator already running finds it on its periodic catch-up."""
    with evaluator_catching_up(settings, streams, catalog):
        paths, _ = make_run(catalog, settings.data_dir, 1)  # cataloged after the start, never announced
        wait_until(lambda: every_window(catalog, paths.run_id))
    assert [r.window_id for r in every_window(catalog, paths.run_id)] == [0]
    assert len(redis_client.xrange(streams.replays)) == 2


def test_the_periodic_catch_up_leaves_young_windows_to_their_announcement(catalog, settings):
    paths, _ = make_run(catalog, settings.data_dir, 2)
    just_now = datetime.now(UTC)
    assert [w.window_id for w in catalog.windows_without_replay(paths.run_id)] == [0, 1]
    assert catalog.windows_without_replay(paths.run_id, cataloged_before=just_now - timedelta(minutes=2)) == []
    assert [w.window_id for w in catalog.windows_without_replay(
        paths.run_id, cataloged_before=just_now + timedelta(seconds=1))] == [0, 1]


def test_a_catalog_outage_during_the_periodic_catch_up_does_not_stop_the_evaluator(
        postgres_url, data_dir, streams):
    from sqlalchemy import create_engine, text

    settings = Settings(data_dir=data_dir, database_url=postgres_url, redis_url=REDIS_URL, wandb_mode="disabled")
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with Catalog(postgres_url) as catalog:
            catalog.create_all()
            with evaluator_catching_up(settings, streams, catalog) as (_, thread):
                with admin.connect() as connection:  # the windows table is gone for a second
                    connection.execute(text("ALTER TABLE windows RENAME TO windows_away"))
                time.sleep(1.0)
                assert thread.is_alive()
                with admin.connect() as connection:
                    connection.execute(text("ALTER TABLE windows_away RENAME TO windows"))
                paths, _ = make_run(catalog, data_dir, 1)
                wait_until(lambda: every_window(catalog, paths.run_id))
            assert [r.window_id for r in every_window(catalog, paths.run_id)] == [0]
    finally:
        admin.dispose()


def test_a_window_whose_catch_up_keeps_failing_is_given_up_on_after_max_deliveries(
        settings, catalog, streams, redis_client):
    paths, _ = make_run(catalog, settings.data_dir, 1)
    shutil.rmtree(paths.replays_dir)
    paths.replays_dir.write_text("a file where the replays folder should be")  # every attempt fails
    with evaluator_catching_up(settings, streams, catalog, max_deliveries=2) as (evaluator, _):
        wait_until(lambda: redis_client.xlen(streams.dead) > 0)
    (_, fields), = redis_client.xrange(streams.dead)
    assert "catch-up failed 2 times" in fields["dead_reason"]
    assert catalog.windows_without_replay(paths.run_id) == []  # marked failed: no more attempts
    assert evaluator.status["failures"] == 1
