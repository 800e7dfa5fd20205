"""The catalog on real SQLite and real PostgreSQL: idempotent writes, one every_window per window."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prospector_common.catalog import (
    EVAL_DONE,
    EVAL_FAILED,
    TAG_BEST_SO_FAR,
    TAG_EVERY_WINDOW,
    Catalog,
)
from prospector_common.ids import InvalidId, new_replay_id, new_run_id
from prospector_common.settings import Settings


def make_run(catalog: Catalog, **overrides: Any) -> str:
    run_id = new_run_id(git_sha="1a2b3c4")
    values: dict[str, Any] = {"config": {"lr": 3e-4, "envs": 256}, "spec_version": 1, "git_sha": "1a2b3c4"}
    catalog.upsert_run(run_id, **{**values, **overrides})
    return run_id


def add_windows(catalog: Catalog, run_id: str, count: int) -> None:
    for window in range(count):
        catalog.add_window(
            run_id,
            window,
            env_steps_total=(window + 1) * 1000,
            checkpoint_path=f"{run_id}/checkpoints/ckpt_{window}.pt",
            metrics={"return_mean": float(window)},
        )


def add_replay(
    catalog: Catalog,
    run_id: str,
    window: int,
    *,
    tags: list[str],
    seed: int = 7,
    net_profit: float = 0.0,
    replay_id: str | None = None,
) -> tuple[str, bool]:
    replay_id = replay_id or new_replay_id(window, seed)
    added = catalog.add_replay(
        replay_id=replay_id,
        run_id=run_id,
        window_id=window,
        seed=seed,
        return_=1.5,
        net_profit=net_profit,
        survival=True,
        length=200,
        tags=tags,
        path=f"{run_id}/replays/{replay_id}.jsonl.gz",
    )
    return replay_id, added


def test_create_all_is_idempotent_and_keeps_data(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    catalog.create_all()
    assert catalog.get_run(run_id) is not None
    assert catalog.ping()


def test_upsert_run_updates_a_resumed_run_but_keeps_when_it_began(catalog: Catalog) -> None:
    began = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    run_id = make_run(catalog, created_at=began, wandb_url="https://wandb.example/run")
    catalog.upsert_run(
        run_id,
        config={"lr": 1e-4},
        spec_version=1,
        git_sha="1a2b3c4",
        status="running",
        created_at=began + timedelta(days=1),
    )
    run = catalog.get_run(run_id)
    assert run is not None
    assert run.created_at == began
    assert run.config == {"lr": 1e-4}
    assert run.wandb_url == "https://wandb.example/run"  # not erased by a resume without one


def test_run_status_changes_and_unknown_runs_report_false(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    assert catalog.set_run_status(run_id, "finished", wandb_url="https://wandb.example/x")
    run = catalog.get_run(run_id)
    assert run is not None and (run.status, run.wandb_url) == ("finished", "https://wandb.example/x")
    assert not catalog.set_run_status(new_run_id(), "failed")
    with pytest.raises(ValueError):
        catalog.set_run_status(run_id, "exploded")


def test_list_runs_gives_newest_first(catalog: Catalog) -> None:
    now = datetime.now(UTC)
    older = make_run(catalog, created_at=now - timedelta(hours=1))
    newer = make_run(catalog, created_at=now)
    assert [r.run_id for r in catalog.list_runs()] == [newer, older]
    assert [r.run_id for r in catalog.list_runs(limit=1)] == [newer]


def test_adding_the_same_window_twice_is_a_no_op(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    assert catalog.add_window(run_id, 0, env_steps_total=1000, checkpoint_path="a", metrics={"x": 1})
    assert not catalog.add_window(run_id, 0, env_steps_total=9999, checkpoint_path="b", metrics={"x": 2})
    window = catalog.get_window(run_id, 0)
    assert window is not None
    assert (window.env_steps_total, window.checkpoint_path, window.metrics) == (1000, "a", {"x": 1})


def test_a_window_of_an_unknown_run_is_refused(catalog: Catalog) -> None:
    with pytest.raises(LookupError):
        catalog.add_window(new_run_id(), 0, env_steps_total=1, checkpoint_path="a", metrics={})


def test_window_metrics_come_back_as_strict_json(catalog: Catalog) -> None:
    np = pytest.importorskip("numpy")
    run_id = make_run(catalog)
    metrics = {"loss": float("nan"), "sps": np.float32(1.5), "hist": np.arange(3), "nested": {"a": [1, 2]}}
    catalog.add_window(run_id, 0, env_steps_total=10, checkpoint_path="a", metrics=metrics)
    window = catalog.get_window(run_id, 0)
    assert window is not None
    assert window.metrics == {"loss": None, "sps": 1.5, "hist": [0, 1, 2], "nested": {"a": [1, 2]}}
    assert window.created_at.tzinfo is not None and window.created_at.utcoffset() == timedelta(0)


def test_windows_list_in_order_after_a_given_window(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    add_windows(catalog, run_id, 5)
    assert [w.window_id for w in catalog.list_windows(run_id)] == [0, 1, 2, 3, 4]
    assert [w.window_id for w in catalog.list_windows(run_id, after=1, limit=2)] == [2, 3]
    latest = catalog.latest_window(run_id)
    assert latest is not None and latest.window_id == 4 and latest.env_steps_total == 5000
    assert catalog.latest_window(make_run(catalog)) is None


def test_windows_without_replay_skips_evaluated_and_failed_windows(catalog: Catalog) -> None:
    run_a, run_b = make_run(catalog), make_run(catalog)
    add_windows(catalog, run_a, 4)
    add_windows(catalog, run_b, 1)
    add_replay(catalog, run_a, 0, tags=[TAG_EVERY_WINDOW])
    add_replay(catalog, run_a, 1, tags=[TAG_BEST_SO_FAR])  # not the every_window replay
    assert catalog.mark_window_failed(run_a, 2, "checkpoint is corrupt")
    pending = [(w.run_id, w.window_id) for w in catalog.windows_without_replay()]
    assert sorted(pending) == sorted([(run_a, 1), (run_a, 3), (run_b, 0)])
    assert [w.window_id for w in catalog.windows_without_replay(run_a)] == [1, 3]
    evaluated, failed = catalog.get_window(run_a, 0), catalog.get_window(run_a, 2)
    assert evaluated is not None and evaluated.eval_status == EVAL_DONE
    assert failed is not None and (failed.eval_status, failed.eval_error) == (
        EVAL_FAILED,
        "checkpoint is corrupt",
    )


def test_a_late_failure_never_overwrites_a_finished_evaluation(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    add_windows(catalog, run_id, 1)
    add_replay(catalog, run_id, 0, tags=[TAG_EVERY_WINDOW])
    assert not catalog.mark_window_failed(run_id, 0, "late")
    assert not catalog.mark_window_failed(run_id, 9, "unknown window")
    window = catalog.get_window(run_id, 0)
    assert window is not None and window.eval_status == EVAL_DONE


def test_adding_the_same_replay_twice_is_a_no_op(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    add_windows(catalog, run_id, 1)
    replay_id, added = add_replay(catalog, run_id, 0, tags=[TAG_EVERY_WINDOW], net_profit=5.0)
    assert added
    assert (
        add_replay(catalog, run_id, 0, tags=[TAG_EVERY_WINDOW], net_profit=99.0, replay_id=replay_id)[1]
        is False
    )
    replay = catalog.get_replay(replay_id)
    assert replay is not None and replay.net_profit == 5.0
    assert replay.model_dump(by_alias=True)["return"] == 1.5


def test_a_window_gets_only_one_every_window_replay(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    add_windows(catalog, run_id, 1)
    assert add_replay(catalog, run_id, 0, tags=[TAG_EVERY_WINDOW], seed=1)[1]
    assert not catalog.has_every_window_replay(run_id, 1)
    second, added = add_replay(catalog, run_id, 0, tags=[TAG_EVERY_WINDOW, TAG_BEST_SO_FAR], seed=2)
    assert not added and catalog.get_replay(second) is None
    assert catalog.has_every_window_replay(run_id, 0)
    assert add_replay(catalog, run_id, 0, tags=[], seed=3)[1]  # other replays of the window are fine


def test_a_milestone_tag_stays_with_the_first_replay_that_earned_it(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    add_windows(catalog, run_id, 2)
    first, _ = add_replay(catalog, run_id, 0, tags=[TAG_EVERY_WINDOW, "milestone:first_profit"])
    second, added = add_replay(catalog, run_id, 1, tags=[TAG_EVERY_WINDOW, "milestone:first_profit"])
    assert added
    replay_first, replay_second = catalog.get_replay(first), catalog.get_replay(second)
    assert replay_first is not None and replay_first.tags == [TAG_EVERY_WINDOW, "milestone:first_profit"]
    assert replay_second is not None and replay_second.tags == [TAG_EVERY_WINDOW]
    page = catalog.list_replays(run_id, tag="milestone:first_profit")
    assert [r.replay_id for r in page.items] == [first]


def test_replays_filter_by_tag_and_window_and_page_with_a_cursor(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    add_windows(catalog, run_id, 3)
    ids = []
    for window in (2, 0, 1):  # added out of order; listed in window order
        ids.append(add_replay(catalog, run_id, window, tags=[TAG_EVERY_WINDOW], seed=window)[0])
        ids.append(add_replay(catalog, run_id, window, tags=[], seed=100 + window)[0])
    expected = sorted(ids)
    seen, cursor = [], None
    while True:
        page = catalog.list_replays(run_id, limit=4, cursor=cursor)
        seen += [r.replay_id for r in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert [r.window_id for r in catalog.list_replays(run_id).items] == [0, 0, 1, 1, 2, 2]
    every = catalog.list_replays(run_id, tag=TAG_EVERY_WINDOW).items
    assert [r.window_id for r in every] == [0, 1, 2]
    assert {r.seed for r in catalog.list_replays(run_id, window_id=1).items} == {1, 101}
    assert catalog.list_replays(make_run(catalog)).items == []


def test_best_net_profit_and_has_tag_answer_per_run(catalog: Catalog) -> None:
    run_id, other = make_run(catalog), make_run(catalog)
    add_windows(catalog, run_id, 2)
    add_windows(catalog, other, 1)
    assert catalog.best_net_profit(run_id) is None
    add_replay(catalog, run_id, 0, tags=[TAG_EVERY_WINDOW], net_profit=-20.0)
    add_replay(catalog, run_id, 1, tags=[TAG_EVERY_WINDOW, "milestone:profit_1k"], net_profit=1500.0)
    add_replay(catalog, other, 0, tags=[TAG_EVERY_WINDOW], net_profit=1e9)
    assert catalog.best_net_profit(run_id) == 1500.0
    assert catalog.has_tag(run_id, "milestone:profit_1k")
    assert not catalog.has_tag(other, "milestone:profit_1k")


def test_seeds_across_the_whole_engine_range_round_trip(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    add_windows(catalog, run_id, 1)
    for seed in (0, 2**63 - 1, 2**63, 2**64 - 1):
        replay_id, _ = add_replay(catalog, run_id, 0, tags=[], seed=seed)
        replay = catalog.get_replay(replay_id)
        assert replay is not None and replay.seed == seed


def test_ids_from_outside_are_validated_before_any_query(catalog: Catalog) -> None:
    run_id = make_run(catalog)
    for call in (
        lambda: catalog.get_run("x'; DROP TABLE runs; --"),
        lambda: catalog.list_windows("../" + run_id),
        lambda: catalog.list_replays(run_id, cursor="../../etc"),
        lambda: catalog.list_replays(run_id, tag="Every Window"),
        lambda: catalog.get_window(run_id, "01"),
        lambda: catalog.get_replay("%2fetc"),
    ):
        with pytest.raises(InvalidId):
            call()
    with pytest.raises(ValueError):
        catalog.list_replays(run_id, limit=0)
    assert catalog.get_run(run_id) is not None


def test_racing_evaluators_record_exactly_one_every_window_replay(catalog_url: str) -> None:
    with Catalog(catalog_url) as setup:
        setup.create_all()
        run_id = make_run(setup)
        add_windows(setup, run_id, 4)
    catalogs = [Catalog(catalog_url), Catalog(catalog_url)]
    results: dict[tuple[int, int], bool] = {}
    barrier = threading.Barrier(2)

    def evaluator(index: int) -> None:
        for window in range(4):
            barrier.wait()
            results[(index, window)] = add_replay(
                catalogs[index], run_id, window, tags=[TAG_EVERY_WINDOW, "milestone:first_profit"], seed=index
            )[1]

    threads = [threading.Thread(target=evaluator, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        for window in range(4):
            assert results[(0, window)] != results[(1, window)], f"window {window}: {results}"
        every = catalogs[0].list_replays(run_id, tag=TAG_EVERY_WINDOW).items
        assert [r.window_id for r in every] == [0, 1, 2, 3]
        assert len(catalogs[0].list_replays(run_id, tag="milestone:first_profit").items) == 1
        assert catalogs[0].windows_without_replay(run_id) == []
    finally:
        for c in catalogs:
            c.close()


def test_the_default_catalog_is_a_wal_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with Catalog.from_settings(settings) as catalog:
        catalog.create_all()
        with catalog.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "data" / "catalog.sqlite").is_file()


def test_other_database_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="sqlite and postgresql"):
        Catalog("mysql://x@localhost/db")


def test_the_package_exports_the_names_the_module_had() -> None:
    """catalog.py became a package; `from prospector_common.catalog import X` works as before."""
    import prospector_common.catalog as catalog_package

    public = {
        "RUN_STATUSES", "EVAL_DONE", "EVAL_FAILED", "TAG_EVERY_WINDOW", "TAG_BEST_SO_FAR",
        "MILESTONE_PREFIX", "TAG_RE", "MAX_PAGE", "validate_tag", "JSONType", "UTCDateTime",
        "UInt64", "Base", "RunRow", "WindowRow", "ReplayRow", "ReplayTagRow", "RunRecord",
        "WindowRecord", "ReplayRecord", "WindowPage", "ReplayPage", "Catalog",
    }  # fmt: skip
    assert set(catalog_package.__all__) == public
    assert all(getattr(catalog_package, name) is not None for name in public)
