"""The catalog's schema migrations on real SQLite and real PostgreSQL.

A catalog made by the code before migrations (Base.metadata.create_all, no
alembic_version) is built here from a frozen copy of that code's tables, with
rows written the way that code stored them, and then opened with today's
Catalog: it must be adopted and upgraded in place with every row intact.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from prospector_common.catalog import (
    EVAL_DONE,
    EVAL_FAILED,
    TAG_BEST_SO_FAR,
    TAG_EVERY_WINDOW,
    Base,
    Catalog,
)
from prospector_common.catalog.migrations import (
    BASELINE,
    alembic_config,
    current_revision,
    head_revision,
    schema_lock,
)
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

HEAD = "0002_replay_query_indexes"

# ---- the tables as the code before migrations declared them (frozen; never edit) ----
# Its catalog.py (commit 7900e75) ran Base.metadata.create_all on these.

OLD = MetaData()
_JSON = JSON().with_variant(JSONB(), "postgresql")
_WHEN = DateTime(timezone=True)  # UTCDateTime's impl
_EVERY_WINDOW_ONLY = text("tag = 'every_window'")
_MILESTONES_ONLY = text("tag LIKE 'milestone:%'")

Table(
    "runs",
    OLD,
    Column("run_id", String(64), primary_key=True),
    Column("created_at", _WHEN, nullable=False),
    Column("config", _JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("wandb_url", Text),
    Column("spec_version", Integer, nullable=False),
    Column("git_sha", String(16), nullable=False),
)
Table(
    "windows",
    OLD,
    Column("run_id", String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("window_id", Integer, primary_key=True),
    Column("env_steps_total", BigInteger, nullable=False),
    Column("checkpoint_path", Text, nullable=False),
    Column("metrics", _JSON, nullable=False),
    Column("created_at", _WHEN, nullable=False),
    Column("eval_status", String(16)),
    Column("eval_error", Text),
)
Table(
    "replays",
    OLD,
    Column("replay_id", String(64), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("window_id", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),  # UInt64's impl: seeds >= 2**63 stored negative
    Column("return", Float, nullable=False),
    Column("net_profit", Float, nullable=False),
    Column("survival", Boolean, nullable=False),
    Column("length", Integer, nullable=False),
    Column("tags", _JSON, nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", _WHEN, nullable=False),
    ForeignKeyConstraint(
        ["run_id", "window_id"], ["windows.run_id", "windows.window_id"], ondelete="CASCADE"
    ),
    Index("ix_replays_run_window", "run_id", "window_id"),
)
Table(
    "replay_tags",
    OLD,
    Column("replay_id", String(64), ForeignKey("replays.replay_id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("window_id", Integer, nullable=False),
    Index("ix_replay_tags_run_tag", "run_id", "tag"),
    Index(
        "ux_replay_tags_every_window",
        "run_id",
        "window_id",
        unique=True,
        sqlite_where=_EVERY_WINDOW_ONLY,
        postgresql_where=_EVERY_WINDOW_ONLY,
    ),
    Index(
        "ux_replay_tags_milestone",
        "run_id",
        "tag",
        unique=True,
        sqlite_where=_MILESTONES_ONLY,
        postgresql_where=_MILESTONES_ONLY,
    ),
)

# ---- rows as that code stored them ---------------------------------------------------

RUN_ID = "20250102-030405-1a2b3c4-9f0e"
BEGAN = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
BIG_SEED = 2**64 - 5  # stored as -5
REPLAY_A = "w000000-s7-0a0a0a0a"  # window 0: every_window, best_so_far, a milestone
REPLAY_B = f"w000001-s{BIG_SEED}-0b0b0b0b"  # window 1: every_window
REPLAY_C = "w000001-s8-0c0c0c0c"  # window 1: no tags, the best net profit
MILESTONE = "milestone:first_profit"


def fill_old_catalog(engine: Engine) -> None:
    """A run with four windows (evaluated, evaluated, failed, pending) and three replays."""
    sqlite = engine.dialect.name == "sqlite"
    # UTCDateTime stored naive UTC on SQLite, aware on PostgreSQL.
    when = BEGAN.replace(tzinfo=None) if sqlite else BEGAN
    runs, windows, replays, replay_tags = (
        OLD.tables[n] for n in ("runs", "windows", "replays", "replay_tags")
    )
    replay_rows = [
        (REPLAY_A, 0, 7, 120.5, [TAG_EVERY_WINDOW, TAG_BEST_SO_FAR, MILESTONE]),
        (REPLAY_B, 1, BIG_SEED - 2**64, -3.0, [TAG_EVERY_WINDOW]),
        (REPLAY_C, 1, 8, 500.0, []),
    ]
    with engine.begin() as connection:
        connection.execute(
            runs.insert().values(
                run_id=RUN_ID,
                created_at=when,
                config={"lr": 3e-4, "envs": 256},
                status="running",
                wandb_url="https://wandb.example/run",
                spec_version=1,
                git_sha="1a2b3c4",
            )
        )
        connection.execute(
            windows.insert(),
            [
                {
                    "run_id": RUN_ID,
                    "window_id": w,
                    "env_steps_total": (w + 1) * 1000,
                    "checkpoint_path": f"{RUN_ID}/checkpoints/ckpt_{w}.pt",
                    "metrics": {"return_mean": float(w), "nested": {"a": [1, 2]}},
                    "created_at": when,
                    "eval_status": status,
                    "eval_error": error,
                }
                for w, status, error in [
                    (0, EVAL_DONE, None),
                    (1, EVAL_DONE, None),
                    (2, EVAL_FAILED, "checkpoint is corrupt"),
                    (3, None, None),
                ]
            ],
        )
        for replay_id, window, seed, profit, tags in replay_rows:
            connection.execute(
                replays.insert().values(
                    replay_id=replay_id,
                    run_id=RUN_ID,
                    window_id=window,
                    seed=seed,
                    **{"return": 1.5},
                    net_profit=profit,
                    survival=True,
                    length=200,
                    tags=tags,
                    path=f"{RUN_ID}/replays/{replay_id}.jsonl.gz",
                    created_at=when,
                )
            )
            for tag in tags:
                connection.execute(
                    replay_tags.insert().values(replay_id=replay_id, tag=tag, run_id=RUN_ID, window_id=window)
                )


# ---- looking at a schema ----------------------------------------------------------------


def schema_of(connection: Connection) -> dict[str, Any]:
    """Everything the database says about the catalog's tables, to compare two schemas."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND tbl_name != 'alembic_version'"
        )
        # The statements as they were run; only the layout may differ.
        return {"sqlite_master": sorted((t, n, tb, " ".join((sql or "").split())) for t, n, tb, sql in rows)}
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    columns = connection.execute(
        text(
            "SELECT table_name, ordinal_position, column_name, data_type, character_maximum_length,"
            " is_nullable, column_default FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name != 'alembic_version'"
        )
    )
    constraints = connection.execute(
        text(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE connamespace = current_schema()::regnamespace"
            " AND conrelid::regclass::text != 'alembic_version'"
        )
    )
    indexes = connection.execute(
        text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename != 'alembic_version'"
        )
    )
    return {
        "columns": sorted(tuple(r) for r in columns),
        "constraints": sorted(tuple(r) for r in constraints),
        "indexes": sorted((t, n, d.replace(f"{schema}.", "")) for t, n, d in indexes),
    }


def snapshot(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return schema_of(connection)
    finally:
        engine.dispose()


def revision_rows(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    finally:
        engine.dispose()


def drop_everything(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        Base.metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture
def old_catalog_url(catalog_url: str) -> Iterator[str]:
    """A catalog as the code before migrations left it: its tables, its rows, no alembic_version."""
    engine = create_engine(catalog_url)
    try:
        OLD.create_all(engine)
        fill_old_catalog(engine)
    finally:
        engine.dispose()
    yield catalog_url


# ---- the tests --------------------------------------------------------------------------


def test_head_is_the_newest_revision() -> None:
    assert head_revision() == HEAD


def test_the_baseline_is_exactly_what_the_code_before_migrations_created(catalog_url: str) -> None:
    engine = create_engine(catalog_url)
    try:
        OLD.create_all(engine)
    finally:
        engine.dispose()
    before_migrations = snapshot(catalog_url)
    drop_everything(catalog_url)
    with Catalog(catalog_url) as catalog, schema_lock(catalog.engine) as connection:
        command.upgrade(alembic_config(connection), BASELINE)
    assert revision_rows(catalog_url) == [BASELINE]
    assert snapshot(catalog_url) == before_migrations


def test_head_is_exactly_what_tables_py_describes(catalog_url: str) -> None:
    with Catalog(catalog_url) as catalog:
        catalog.create_all()
    migrated = snapshot(catalog_url)
    drop_everything(catalog_url)
    engine = create_engine(catalog_url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()
    assert snapshot(catalog_url) == migrated


def test_a_fresh_database_gets_head(catalog_url: str) -> None:
    with Catalog(catalog_url) as catalog:
        assert catalog.migrate() == HEAD
        with catalog.engine.connect() as connection:
            assert current_revision(connection) == HEAD
            indexes = {i["name"] for i in inspect(connection).get_indexes("replays")}
        assert {"ix_replays_run_replay", "ix_replays_run_net_profit"} <= indexes
        assert catalog.list_runs() == []
    assert revision_rows(catalog_url) == [HEAD]


def test_a_catalog_from_before_migrations_is_upgraded_in_place(old_catalog_url: str) -> None:
    before = snapshot(old_catalog_url)
    with Catalog(old_catalog_url) as catalog:
        catalog.create_all()
        assert revision_rows(old_catalog_url) == [HEAD]
        after = snapshot(old_catalog_url)
        assert after != before  # the new indexes

        run = catalog.get_run(RUN_ID)
        assert run is not None
        assert run.model_dump() == {
            "run_id": RUN_ID,
            "created_at": BEGAN,
            "config": {"lr": 3e-4, "envs": 256},
            "status": "running",
            "wandb_url": "https://wandb.example/run",
            "spec_version": 1,
            "git_sha": "1a2b3c4",
        }
        windows = catalog.list_windows(RUN_ID)
        assert [(w.window_id, w.eval_status, w.eval_error) for w in windows] == [
            (0, EVAL_DONE, None),
            (1, EVAL_DONE, None),
            (2, EVAL_FAILED, "checkpoint is corrupt"),
            (3, None, None),
        ]
        assert windows[1].metrics == {"return_mean": 1.0, "nested": {"a": [1, 2]}}
        assert windows[3].created_at == BEGAN and windows[3].env_steps_total == 4000
        assert [w.window_id for w in catalog.windows_without_replay()] == [3]

        assert [r.replay_id for r in catalog.list_replays(RUN_ID).items] == [REPLAY_A, REPLAY_B, REPLAY_C]
        assert [r.replay_id for r in catalog.list_replays(RUN_ID, tag=TAG_EVERY_WINDOW).items] == [
            REPLAY_A,
            REPLAY_B,
        ]
        page = catalog.list_replays(RUN_ID, limit=1, cursor=REPLAY_A)
        assert [r.replay_id for r in page.items] == [REPLAY_B] and page.next_cursor == REPLAY_B
        big = catalog.get_replay(REPLAY_B)
        assert big is not None and big.seed == BIG_SEED and big.created_at == BEGAN
        first = catalog.get_replay(REPLAY_A)
        assert first is not None and first.tags == [TAG_EVERY_WINDOW, TAG_BEST_SO_FAR, MILESTONE]
        assert first.model_dump(by_alias=True)["return"] == 1.5
        assert catalog.best_net_profit(RUN_ID) == 500.0
        assert catalog.has_tag(RUN_ID, MILESTONE) and catalog.has_every_window_replay(RUN_ID, 1)

        # Writes go on as before, and the old unique indexes still hold.
        common: dict[str, Any] = {
            "run_id": RUN_ID,
            "return_": 1.0,
            "survival": True,
            "length": 10,
            "path": "x",
        }
        assert not catalog.add_replay(
            replay_id="w000000-s9-0d0d0d0d",
            window_id=0,
            seed=9,
            net_profit=1.0,
            tags=[TAG_EVERY_WINDOW],
            **common,
        )
        assert catalog.add_replay(
            replay_id="w000003-s9-0e0e0e0e",
            window_id=3,
            seed=9,
            net_profit=900.0,
            tags=[TAG_EVERY_WINDOW, MILESTONE],
            **common,
        )
        pending = catalog.get_replay("w000003-s9-0e0e0e0e")
        assert pending is not None and pending.tags == [TAG_EVERY_WINDOW]  # the milestone was taken
        assert catalog.windows_without_replay() == []
        assert catalog.best_net_profit(RUN_ID) == 900.0
        assert catalog.add_window(RUN_ID, 4, env_steps_total=5000, checkpoint_path="c", metrics={})
    # And it is now a catalog like any made fresh.
    assert snapshot(old_catalog_url) == after


def test_opening_an_up_to_date_catalog_again_changes_nothing(
    old_catalog_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Catalog(old_catalog_url) as first:
        first.create_all()
    before = snapshot(old_catalog_url)
    caplog.clear()
    caplog.set_level(logging.INFO)
    statements: list[str] = []
    with Catalog(old_catalog_url) as again:
        event.listen(again.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        again.create_all()
        again.create_all()
        assert again.get_run(RUN_ID) is not None
        assert len(again.list_replays(RUN_ID).items) == 3
    assert snapshot(old_catalog_url) == before
    assert revision_rows(old_catalog_url) == [HEAD]
    assert statements  # it did look
    assert caplog.records == []  # a service's every start says nothing either
    writes = re.compile(
        r"\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|BEGIN IMMEDIATE)\b|.*pg_advisory", re.IGNORECASE
    )
    assert [s for s in statements if writes.match(s)] == []  # no lock taken, nothing written


def test_a_catalog_at_an_older_revision_is_upgraded(catalog_url: str) -> None:
    with Catalog(catalog_url) as catalog:
        catalog.create_all()
        with schema_lock(catalog.engine) as connection:
            command.downgrade(alembic_config(connection), BASELINE)
        assert revision_rows(catalog_url) == [BASELINE]
        indexes = {i["name"] for i in inspect(catalog.engine).get_indexes("replays")}
        assert "ix_replays_run_replay" not in indexes
        assert catalog.migrate() == HEAD
    assert revision_rows(catalog_url) == [HEAD]


def test_a_start_that_fails_half_way_leaves_the_catalog_as_it_was(old_catalog_url: str) -> None:
    # A table named like revision 0002's second index: the first index goes in,
    # the second fails (tables and indexes share one namespace on both databases).
    engine = create_engine(old_catalog_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE ix_replays_run_net_profit (x INTEGER)")
    finally:
        engine.dispose()
    before = snapshot(old_catalog_url)
    with Catalog(old_catalog_url) as catalog:
        with pytest.raises(DBAPIError, match="ix_replays_run_net_profit"):
            catalog.create_all()
        assert snapshot(old_catalog_url) == before  # not stamped, no first index: all rolled back
        assert not inspect(catalog.engine).has_table("alembic_version")
        with catalog.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE ix_replays_run_net_profit")
        assert catalog.migrate() == HEAD  # the next start goes through
        assert len(catalog.list_replays(RUN_ID).items) == 3


def test_half_a_catalog_without_a_version_is_refused(catalog_url: str) -> None:
    engine = create_engine(catalog_url)
    try:
        OLD.tables["runs"].create(engine)
    finally:
        engine.dispose()
    with Catalog(catalog_url) as catalog, pytest.raises(RuntimeError, match="refusing to guess"):
        catalog.create_all()
    with Catalog(catalog_url) as catalog:
        assert set(inspect(catalog.engine).get_table_names()) == {"runs"}  # nothing was added


def test_a_start_waits_for_another_that_holds_the_schema_lock(catalog_url: str) -> None:
    done = threading.Event()
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with Catalog(catalog_url) as catalog:
                catalog.create_all()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    with Catalog(catalog_url) as holder:
        with schema_lock(holder.engine):
            thread = threading.Thread(target=start)
            thread.start()
            assert not done.wait(0.7), "the start did not wait for the lock"
        assert done.wait(30)
        thread.join()
    assert errors == []
    assert revision_rows(catalog_url) == [HEAD]


_STARTER = """
import pathlib, sys, time
from prospector_common.catalog import Catalog

url, ready, go = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
catalog = Catalog(url)
ready.touch()
while not go.exists():
    time.sleep(0.001)
print(catalog.migrate())
catalog.close()
"""


@pytest.mark.parametrize("old", [False, True], ids=["fresh", "before-migrations"])
def test_services_starting_at_once_all_succeed(catalog_url: str, tmp_path: Path, old: bool) -> None:
    """Separate processes, as real services are (one process's migrations are also ordered by a thread lock)."""
    if old:
        engine = create_engine(catalog_url)
        try:
            OLD.create_all(engine)
            fill_old_catalog(engine)
        finally:
            engine.dispose()
    go = tmp_path / "go"
    starters = []
    for i in range(2):
        ready = tmp_path / f"ready{i}"
        process = subprocess.Popen(
            [sys.executable, "-c", _STARTER, catalog_url, str(ready), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        starters.append((process, ready))
    deadline = time.monotonic() + 60
    while not all(ready.exists() for _, ready in starters):
        assert all(p.poll() is None for p, _ in starters), [p.communicate() for p, _ in starters]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()  # all at once
    for process, _ in starters:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert out.strip() == HEAD
    assert revision_rows(catalog_url) == [HEAD]
    with Catalog(catalog_url) as catalog:
        assert [r.run_id for r in catalog.list_runs()] == ([RUN_ID] if old else [])


def test_the_replay_queries_read_the_new_indexes_on_sqlite(tmp_path: Path) -> None:
    """What revision 0002 is for: a page of replays and the best profit without reading the whole run."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with Catalog(url) as catalog:
        catalog.create_all()
        run_id = "20250102-030405-1a2b3c4-9f0e"
        catalog.upsert_run(run_id, config={}, spec_version=1, git_sha="1a2b3c4")
        catalog.add_window(run_id, 0, env_steps_total=1, checkpoint_path="a", metrics={})
        statements: list[tuple[str, Any]] = []

        def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append((statement, parameters))

        event.listen(catalog.engine, "before_cursor_execute", keep)
        catalog.list_replays(run_id, limit=10, cursor="w000000-s1-00000000")
        catalog.best_net_profit(run_id)
        event.remove(catalog.engine, "before_cursor_execute", keep)
        plans = []
        with catalog.engine.connect() as connection:
            for statement, parameters in statements:
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plans.append(" | ".join(row[-1] for row in rows))
    page_plan, best_plan = plans
    assert "ix_replays_run_replay" in page_plan and "TEMP B-TREE" not in page_plan, page_plan
    assert "ix_replays_run_net_profit" in best_plan, best_plan


def test_the_command_line_knows_the_revisions_and_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with Catalog(url) as catalog:
        catalog.create_all()
    cli = [sys.executable, "-m", "prospector_common.catalog.migrations"]
    heads = subprocess.run([*cli, "heads"], capture_output=True, text=True, timeout=60, check=True)
    assert heads.stdout.split() == [HEAD, "(head)"]
    current = subprocess.run(
        [*cli, "-x", f"url={url}", "current"], capture_output=True, text=True, timeout=60, check=True
    )
    assert current.stdout.split() == [HEAD, "(head)"]
