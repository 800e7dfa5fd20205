"""Replays: indexes for the two per-run queries that read every replay of the run.

- list_replays pages a run's replays in replay_id order, from a cursor
  (`run_id = ? AND replay_id > ? ORDER BY replay_id LIMIT n`: the API's
  /runs/{run_id}/replays). With only (run_id, window_id) each page read all
  the run's replays and sorted them; (run_id, replay_id) gives the page in
  order, from the cursor on.
- best_net_profit (`max(net_profit) WHERE run_id = ?`), which the evaluator
  asks before tagging every replay, read them all too; (run_id, net_profit)
  answers it from one index entry.

A run has one or more replays per window, so both grew with the run.
"""

from __future__ import annotations

from alembic import op

revision = "0002_replay_query_indexes"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_replays_run_replay", "replays", ["run_id", "replay_id"])
    op.create_index("ix_replays_run_net_profit", "replays", ["run_id", "net_profit"])


def downgrade() -> None:
    op.drop_index("ix_replays_run_net_profit", table_name="replays")
    op.drop_index("ix_replays_run_replay", table_name="replays")
