"""The catalog's tables: SQLAlchemy ORM rows and the column types they need.

    runs         one row per training run (config, status, W&B URL)
    windows      one row per recorded window of a run (metrics, checkpoint, evaluation state)
    replays      one row per recorded replay of a window (score, tags as a JSON list)
    replay_tags  the replay's tags again, one row each: what queries filter on

Tags are stored twice on purpose: as the JSON list on the replay (what readers
get back) and as rows of `replay_tags` (what queries filter on, with indexes,
the same way on both databases, without JSON operators).

These classes describe the schema at the newest migration (migrations/versions).
They are what queries.py reads and writes; they never create tables: the
migrations do. Change them only together with a new revision, and the test
that compares the two (tests/common/test_catalog_migrations.py) says if they
drifted apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

from .records import MILESTONE_PREFIX, TAG_EVERY_WINDOW

# ---- column types -------------------------------------------------------------------

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both databases.

    SQLite has no time zones and would hand back naive values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalog datetimes must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UInt64(TypeDecorator[int]):
    """Engine seeds span 0..2**64-1; both databases top out at signed 64 bits.

    Stored as the same 64 bits read as signed, so nothing is lost.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int | None:
        return None if value is None else (value - 2**64 if value >= 2**63 else value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> int | None:
        return None if value is None else (value + 2**64 if value < 0 else value)


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---- tables --------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16))
    wandb_url: Mapped[str | None] = mapped_column(Text)
    spec_version: Mapped[int] = mapped_column(Integer)
    git_sha: Mapped[str] = mapped_column(String(16))


class WindowRow(Base):
    __tablename__ = "windows"

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    window_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    env_steps_total: Mapped[int] = mapped_column(BigInteger)
    checkpoint_path: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # None: not evaluated yet; EVAL_DONE once it has its every_window replay; EVAL_FAILED.
    eval_status: Mapped[str | None] = mapped_column(String(16))
    eval_error: Mapped[str | None] = mapped_column(Text)


class ReplayRow(Base):
    __tablename__ = "replays"

    replay_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    window_id: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(UInt64)
    return_: Mapped[float] = mapped_column("return", Float)
    net_profit: Mapped[float] = mapped_column(Float)
    survival: Mapped[bool] = mapped_column(Boolean)
    length: Mapped[int] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSONType)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "window_id"], ["windows.run_id", "windows.window_id"], ondelete="CASCADE"
        ),
        Index("ix_replays_run_window", "run_id", "window_id"),
        # Revision 0002: list_replays pages a run's replays in replay_id order
        # from a cursor, and best_net_profit takes a run's highest net profit;
        # both read just the rows they need from these instead of all the run's.
        Index("ix_replays_run_replay", "run_id", "replay_id"),
        Index("ix_replays_run_net_profit", "run_id", "net_profit"),
    )


_EVERY_WINDOW_ONLY = text(f"tag = '{TAG_EVERY_WINDOW}'")
_MILESTONES_ONLY = text(f"tag LIKE '{MILESTONE_PREFIX}%'")


class ReplayTagRow(Base):
    __tablename__ = "replay_tags"

    replay_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("replays.replay_id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    window_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_replay_tags_run_tag", "run_id", "tag"),
        # One every_window replay per window; one replay per milestone per run.
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
