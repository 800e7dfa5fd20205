"""The Catalog class: opening the database, and every query the services make.

One `Catalog(url)` works on SQLite (the default: a file in the data dir, WAL
mode so readers never block the writer) and on PostgreSQL (`DATABASE_URL`,
e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test). Opening one does not
touch the database; `create_all()` (every service calls it at start) brings
the schema to the newest migration (migrations/).

Every write is idempotent, because the trainer may re-record a window on
resume and a Redis entry may be delivered to an evaluator twice:

- `add_window` and `add_replay` are no-ops returning False for a key that
  already exists;
- a window has at most one `every_window` replay and a run at most one replay
  per `milestone:*` tag, enforced by unique indexes, so two evaluators racing
  on the same window cannot both record it.

Every ID is validated (ids.py) before it reaches a query.
"""

from __future__ import annotations

import time

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..ids import validate_replay_id, validate_run_id, validate_seed, validate_window_id
from ..jsonsafe import json_safe
from .migrations import upgrade_to_head
from .records import (
    EVAL_DONE,
    EVAL_FAILED,
    MILESTONE_PREFIX,
    RUN_STATUSES,
    TAG_EVERY_WINDOW,
    ReplayPage,
    ReplayRecord,
    RunRecord,
    WindowPage,
    WindowRecord,
    validate_tag,
)
from .tables import ReplayRow, ReplayTagRow, RunRow, WindowRow, utc_now

MAX_PAGE = 1000
_WRITE_ATTEMPTS = 3  # a unique-index race is resolved by re-reading, once is enough


def _validate_status(status: str) -> str:
    if status not in RUN_STATUSES:
        raise ValueError(f"run status {status!r} is not one of {RUN_STATUSES}")
    return status


def _page_size(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be an integer in 1..{MAX_PAGE}, got {limit!r}")
    return limit


# ---- rows to records ----------------------------------------------------------------


def _run_record(row: RunRow) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        created_at=row.created_at,
        config=row.config,
        status=row.status,
        wandb_url=row.wandb_url,
        spec_version=row.spec_version,
        git_sha=row.git_sha,
    )


def _window_record(row: WindowRow) -> WindowRecord:
    return WindowRecord(
        run_id=row.run_id,
        window_id=row.window_id,
        env_steps_total=row.env_steps_total,
        checkpoint_path=row.checkpoint_path,
        metrics=row.metrics,
        created_at=row.created_at,
        eval_status=row.eval_status,
        eval_error=row.eval_error,
    )


def _replay_record(row: ReplayRow) -> ReplayRecord:
    return ReplayRecord(
        replay_id=row.replay_id,
        run_id=row.run_id,
        window_id=row.window_id,
        seed=row.seed,
        return_=row.return_,
        net_profit=row.net_profit,
        survival=row.survival,
        length=row.length,
        tags=list(row.tags),
        path=row.path,
        created_at=row.created_at,
    )


# ---- the catalog ----------------------------------------------------------------------


def _set_wal(cursor: Any, deadline_s: float = 30.0) -> None:
    """PRAGMA journal_mode=WAL, waiting for a lock another process holds: switching a fresh
    file's journal can answer "database is locked" at once, without the busy handler (two
    services starting at once on a new catalog)."""
    import sqlite3

    start = time.monotonic()
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() - start > deadline_s:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); the driver's implicit one is off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _set_wal(cursor)  # readers never block the writer
        cursor.execute("PRAGMA foreign_keys=ON")  # as PostgreSQL always does
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front. A deferred one
        # that reads first and writes later fails at once with "database is
        # locked" when another process wrote in between, instead of waiting.
        write = connection.get_execution_options().get("prospector_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Catalog:
    """The catalog over one database URL (sqlite:///... or postgresql+psycopg://...)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self._insert: Any  # the dialect's INSERT, for ON CONFLICT (no portable one exists)
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            connect_args = {"timeout": 30, "check_same_thread": False}
            self.engine = create_engine(parsed, connect_args=connect_args, **engine_kwargs)
            _configure_sqlite(self.engine)
            self._insert = sqlite_insert
        elif self.dialect == "postgresql":
            self.engine = create_engine(parsed, pool_pre_ping=True, **engine_kwargs)
            self._insert = pg_insert
        else:
            raise ValueError(f"catalog supports sqlite and postgresql URLs, not {self.dialect!r}")
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(
            self.engine.execution_options(prospector_write=True), expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: Any | None = None) -> Catalog:
        """The catalog at settings.database_url (default: get_settings())."""
        from ..settings import get_settings

        return cls((settings or get_settings()).database_url)

    def migrate(self) -> str:
        """Bring the schema to the newest migration and return its revision.

        Safe on every start, and when several services start at once: a fresh
        database gets every migration, one made before migrations existed is
        recognised and upgraded in place, one already up to date is left alone
        (see migrations/__init__.py).
        """
        return upgrade_to_head(self.engine)

    def create_all(self) -> None:
        """The name every service calls at start: the same as migrate()."""
        self.migrate()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> bool:
        """True if the database answers (for health checks)."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # any failure means "not healthy"; the caller logs it
            return False

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reads.begin() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writes.begin() as session:
            yield session

    # ---- runs ------------------------------------------------------------------

    def upsert_run(
        self,
        run_id: str,
        *,
        config: dict[str, Any],
        spec_version: int,
        git_sha: str,
        status: str = "running",
        wandb_url: str | None = None,
        created_at: datetime | None = None,
    ) -> None:
        """Record a run, or update it (on resume); created_at is kept from the first call."""
        values = {
            "run_id": validate_run_id(run_id),
            "created_at": created_at or utc_now(),
            "config": json_safe(config),
            "status": _validate_status(status),
            "wandb_url": wandb_url,
            "spec_version": spec_version,
            "git_sha": git_sha,
        }
        statement = self._insert(RunRow).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[RunRow.run_id],
            set_={
                "config": statement.excluded.config,
                "status": statement.excluded.status,
                "spec_version": statement.excluded.spec_version,
                "git_sha": statement.excluded.git_sha,
                # A resume without a W&B URL keeps the one already known.
                "wandb_url": func.coalesce(statement.excluded.wandb_url, RunRow.wandb_url),
            },
        )
        with self._write() as session:
            session.execute(statement)

    def set_run_status(self, run_id: str, status: str, *, wandb_url: str | None = None) -> bool:
        """Set a run's status (and W&B URL if given); False if the run is unknown."""
        values: dict[str, Any] = {"status": _validate_status(status)}
        if wandb_url is not None:
            values["wandb_url"] = wandb_url
        with self._write() as session:
            statement = (
                update(RunRow)
                .where(RunRow.run_id == validate_run_id(run_id))
                .values(values)
                .returning(RunRow.run_id)
            )
            return session.execute(statement).first() is not None

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._read() as session:
            row = session.get(RunRow, validate_run_id(run_id))
            return None if row is None else _run_record(row)

    def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        query = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.run_id.desc())
        if limit is not None:
            query = query.limit(_page_size(limit))
        with self._read() as session:
            return [_run_record(row) for row in session.scalars(query)]

    # ---- windows ---------------------------------------------------------------

    def add_window(
        self,
        run_id: str,
        window_id: int,
        *,
        env_steps_total: int,
        checkpoint_path: str,
        metrics: dict[str, Any],
        created_at: datetime | None = None,
    ) -> bool:
        """Record a window; False (and nothing changed) if it is already recorded.

        Raises LookupError if the run is not in the catalog.
        """
        run_id = validate_run_id(run_id)
        values = {
            "run_id": run_id,
            "window_id": validate_window_id(window_id),
            "env_steps_total": int(env_steps_total),
            "checkpoint_path": str(checkpoint_path),
            "metrics": json_safe(metrics),
            "created_at": created_at or utc_now(),
        }
        # RETURNING says whether a row went in; rowcount is not reliable for
        # ON CONFLICT DO NOTHING across drivers.
        statement = (
            self._insert(WindowRow).values(values).on_conflict_do_nothing().returning(WindowRow.window_id)
        )
        with self._write() as session:
            if session.get(RunRow, run_id) is None:
                raise LookupError(f"run {run_id} is not in the catalog; upsert_run first")
            return session.execute(statement).first() is not None

    def get_window(self, run_id: str, window_id: int) -> WindowRecord | None:
        key = (validate_run_id(run_id), validate_window_id(window_id))
        with self._read() as session:
            row = session.get(WindowRow, key)
            return None if row is None else _window_record(row)

    def list_windows(
        self, run_id: str, after: int | None = None, limit: int | None = None
    ) -> list[WindowRecord]:
        """A run's windows in order; `after` a window id gives only the later ones."""
        return self._windows(run_id, after, None if limit is None else _page_size(limit))

    def page_windows(self, run_id: str, after: int | None = None, limit: int = 100) -> WindowPage:
        """A page of a run's windows (up to `limit`, 1..MAX_PAGE) and whether more follow."""
        size = _page_size(limit)
        rows = self._windows(run_id, after, size + 1)  # one more: is there a next page?
        items = rows[:size]
        return WindowPage(items=items, next_after=items[-1].window_id if len(rows) > size else None)

    def _windows(self, run_id: str, after: int | None, limit: int | None) -> list[WindowRecord]:
        query = (
            select(WindowRow).where(WindowRow.run_id == validate_run_id(run_id)).order_by(WindowRow.window_id)
        )
        if after is not None:
            query = query.where(WindowRow.window_id > validate_window_id(after))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as session:
            return [_window_record(row) for row in session.scalars(query)]

    def latest_window(self, run_id: str) -> WindowRecord | None:
        query = (
            select(WindowRow)
            .where(WindowRow.run_id == validate_run_id(run_id))
            .order_by(WindowRow.window_id.desc())
            .limit(1)
        )
        with self._read() as session:
            row = session.scalars(query).first()
            return None if row is None else _window_record(row)

    def windows_without_replay(self, run_id: str | None = None,
                               cataloged_before: datetime | None = None) -> list[WindowRecord]:
        """Windows with no every_window replay and no recorded failure, in order.

        What an evaluator picks up on start (windows announced while none ran), and later
        with `cataloged_before`: windows cataloged long enough ago that their announcement,
        or the evaluator working on them, should have finished by now.
        """
        has_replay = exists().where(
            ReplayTagRow.run_id == WindowRow.run_id,
            ReplayTagRow.window_id == WindowRow.window_id,
            ReplayTagRow.tag == TAG_EVERY_WINDOW,
        )
        query = (
            select(WindowRow)
            .where(~has_replay)
            .where(or_(WindowRow.eval_status.is_(None), WindowRow.eval_status != EVAL_FAILED))
            .order_by(WindowRow.run_id, WindowRow.window_id)
        )
        if run_id is not None:
            query = query.where(WindowRow.run_id == validate_run_id(run_id))
        if cataloged_before is not None:
            query = query.where(WindowRow.created_at <= cataloged_before)
        with self._read() as session:
            return [_window_record(row) for row in session.scalars(query)]

    def mark_window_failed(self, run_id: str, window_id: int, reason: str) -> bool:
        """Record that a window could not be evaluated, and why.

        False if the window is unknown or already has its every_window replay
        (a success is never overwritten by a late failure).
        """
        statement = (
            update(WindowRow)
            .where(
                WindowRow.run_id == validate_run_id(run_id),
                WindowRow.window_id == validate_window_id(window_id),
                or_(WindowRow.eval_status.is_(None), WindowRow.eval_status != EVAL_DONE),
            )
            .values(eval_status=EVAL_FAILED, eval_error=str(reason)[:4000])
            .returning(WindowRow.window_id)
        )
        with self._write() as session:
            return session.execute(statement).first() is not None

    # ---- replays -----------------------------------------------------------------

    def add_replay(
        self,
        *,
        replay_id: str,
        run_id: str,
        window_id: int,
        seed: int,
        return_: float,
        net_profit: float,
        survival: bool,
        length: int,
        tags: Iterable[str],
        path: str,
        created_at: datetime | None = None,
    ) -> bool:
        """Record a replay; False (nothing changed) if it cannot be the new one.

        False when the replay_id is already recorded, or when the replay is
        tagged every_window and its window already has one (another evaluator
        won the race). A milestone:* tag that the run already has elsewhere is
        dropped from this replay rather than refusing it. An every_window
        replay marks its window evaluated. Raises LookupError if the window is
        not in the catalog.
        """
        values: dict[str, Any] = {
            "replay_id": validate_replay_id(replay_id),
            "run_id": validate_run_id(run_id),
            "window_id": validate_window_id(window_id),
            "seed": validate_seed(seed),
            "return_": float(return_),
            "net_profit": float(net_profit),
            "survival": bool(survival),
            "length": int(length),
            "tags": list(dict.fromkeys(validate_tag(t) for t in tags)),  # unique, in order
            "path": str(path),
            "created_at": created_at or utc_now(),
        }
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._write() as session:
                    return self._insert_replay(session, dict(values))
            except IntegrityError:
                # A concurrent writer took the replay_id or a unique tag between
                # our checks and our insert; the next attempt's checks see it.
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _insert_replay(session: Session, values: dict[str, Any]) -> bool:
        replay_id, run_id, window_id = values["replay_id"], values["run_id"], values["window_id"]
        if session.get(ReplayRow, replay_id) is not None:
            return False
        window = session.get(WindowRow, (run_id, window_id))
        if window is None:
            raise LookupError(f"window {run_id}/{window_id} is not in the catalog")
        tags: list[str] = values["tags"]
        if TAG_EVERY_WINDOW in tags and session.scalar(
            select(
                exists().where(
                    ReplayTagRow.run_id == run_id,
                    ReplayTagRow.window_id == window_id,
                    ReplayTagRow.tag == TAG_EVERY_WINDOW,
                )
            )
        ):
            return False
        milestones = [t for t in tags if t.startswith(MILESTONE_PREFIX)]
        if milestones:
            taken = set(
                session.scalars(
                    select(ReplayTagRow.tag).where(
                        ReplayTagRow.run_id == run_id, ReplayTagRow.tag.in_(milestones)
                    )
                )
            )
            tags = [t for t in tags if t not in taken]
        row = ReplayRow(**{**values, "tags": tags})
        session.add(row)
        session.flush()  # the replay before its tags (foreign key)
        session.add_all(
            ReplayTagRow(replay_id=row.replay_id, tag=t, run_id=row.run_id, window_id=row.window_id)
            for t in tags
        )
        if TAG_EVERY_WINDOW in tags:
            window.eval_status, window.eval_error = EVAL_DONE, None
        session.flush()
        return True

    def get_replay(self, replay_id: str) -> ReplayRecord | None:
        with self._read() as session:
            row = session.get(ReplayRow, validate_replay_id(replay_id))
            return None if row is None else _replay_record(row)

    def list_replays(
        self,
        run_id: str,
        *,
        tag: str | None = None,
        window_id: int | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ReplayPage:
        """A page of a run's replays, in window order (replay ids sort by window).

        `cursor` is the previous page's next_cursor (the last replay_id it held).
        """
        query = select(ReplayRow).where(ReplayRow.run_id == validate_run_id(run_id))
        if tag is not None:
            query = query.where(
                exists().where(
                    ReplayTagRow.replay_id == ReplayRow.replay_id, ReplayTagRow.tag == validate_tag(tag)
                )
            )
        if window_id is not None:
            query = query.where(ReplayRow.window_id == validate_window_id(window_id))
        if cursor is not None:
            query = query.where(ReplayRow.replay_id > validate_replay_id(cursor))
        size = _page_size(limit)
        query = query.order_by(ReplayRow.replay_id).limit(size + 1)
        with self._read() as session:
            rows = list(session.scalars(query))
        items = [_replay_record(row) for row in rows[:size]]
        next_cursor = items[-1].replay_id if len(rows) > size else None
        return ReplayPage(items=items, next_cursor=next_cursor)

    def best_net_profit(self, run_id: str) -> float | None:
        """The highest net profit of any replay of the run (None before the first)."""
        query = select(func.max(ReplayRow.net_profit)).where(ReplayRow.run_id == validate_run_id(run_id))
        with self._read() as session:
            return session.scalar(query)

    def has_tag(self, run_id: str, tag: str) -> bool:
        """True if any replay of the run carries `tag`."""
        query = select(
            exists().where(
                ReplayTagRow.run_id == validate_run_id(run_id), ReplayTagRow.tag == validate_tag(tag)
            )
        )
        with self._read() as session:
            return bool(session.scalar(query))

    def has_every_window_replay(self, run_id: str, window_id: int) -> bool:
        """True if the window already has its every_window replay (redelivery check)."""
        query = select(
            exists().where(
                ReplayTagRow.run_id == validate_run_id(run_id),
                ReplayTagRow.window_id == validate_window_id(window_id),
                ReplayTagRow.tag == TAG_EVERY_WINDOW,
            )
        )
        with self._read() as session:
            return bool(session.scalar(query))
