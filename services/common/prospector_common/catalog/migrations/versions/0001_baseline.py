"""Baseline: the catalog exactly as the code before migrations created it.

That code ran Base.metadata.create_all; a database it made has these tables
and indexes and no alembic_version, and upgrade_to_head stamps it with this
revision instead of running it. So this must stay what create_all produced:
same tables, columns, types, constraints (unnamed, as there: PostgreSQL names
them) and indexes. The types are spelled out rather than imported from
tables.py, which follows the newest revision, not this one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

# tables.py's column types as the database sees them (their Python side does
# not reach the schema): JSONType, UTCDateTime, UInt64.
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)
UINT64 = sa.BigInteger()

EVERY_WINDOW_ONLY = "tag = 'every_window'"
MILESTONES_ONLY = "tag LIKE 'milestone:%'"


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("wandb_url", sa.Text(), nullable=True),
        sa.Column("spec_version", sa.Integer(), nullable=False),
        sa.Column("git_sha", sa.String(16), nullable=False),
    )
    op.create_table(
        "windows",
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("window_id", sa.Integer(), primary_key=True),
        sa.Column("env_steps_total", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_path", sa.Text(), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("eval_status", sa.String(16), nullable=True),
        sa.Column("eval_error", sa.Text(), nullable=True),
    )
    op.create_table(
        "replays",
        sa.Column("replay_id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("seed", UINT64, nullable=False),
        sa.Column("return", sa.Float(), nullable=False),
        sa.Column("net_profit", sa.Float(), nullable=False),
        sa.Column("survival", sa.Boolean(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id", "window_id"], ["windows.run_id", "windows.window_id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_replays_run_window", "replays", ["run_id", "window_id"])
    op.create_table(
        "replay_tags",
        sa.Column(
            "replay_id",
            sa.String(64),
            sa.ForeignKey("replays.replay_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_replay_tags_run_tag", "replay_tags", ["run_id", "tag"])
    # One every_window replay per window; one replay per milestone per run.
    op.create_index(
        "ux_replay_tags_every_window",
        "replay_tags",
        ["run_id", "window_id"],
        unique=True,
        sqlite_where=sa.text(EVERY_WINDOW_ONLY),
        postgresql_where=sa.text(EVERY_WINDOW_ONLY),
    )
    op.create_index(
        "ux_replay_tags_milestone",
        "replay_tags",
        ["run_id", "tag"],
        unique=True,
        sqlite_where=sa.text(MILESTONES_ONLY),
        postgresql_where=sa.text(MILESTONES_ONLY),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; children before parents.
    for table in ("replay_tags", "replays", "windows", "runs"):
        op.drop_table(table)
