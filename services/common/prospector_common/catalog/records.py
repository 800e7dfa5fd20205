"""What the catalog hands back, and the words it uses.

Records are plain frozen values (pydantic models), detached from any database
session: callers may keep them, compare them and serialize them. The vocabulary
(run statuses, evaluation states, tags) lives here because records carry it and
callers test against it; tables.py uses the tag names for its unique indexes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..ids import InvalidId

# ---- vocabulary ---------------------------------------------------------------------

RUN_STATUSES = ("created", "running", "finished", "failed", "interrupted")
EVAL_DONE = "done"
EVAL_FAILED = "failed"

TAG_EVERY_WINDOW = "every_window"
TAG_BEST_SO_FAR = "best_so_far"
MILESTONE_PREFIX = "milestone:"
TAG_RE = re.compile(r"\A[a-z0-9_]{1,32}(?::[a-z0-9_.]{1,31})?\Z")


def validate_tag(value: object) -> str:
    """Return `value` if it is a well-formed tag (`name` or `kind:name`)."""
    if not isinstance(value, str) or not TAG_RE.match(value):
        raise InvalidId(f"tag {value!r} must be lowercase [a-z0-9_], optionally 'kind:name'")
    return value


# ---- what readers get back (plain values, detached from any session) ----------------


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunRecord(_Record):
    run_id: str
    created_at: datetime
    config: dict[str, Any]
    status: str
    wandb_url: str | None
    spec_version: int
    git_sha: str


class WindowRecord(_Record):
    run_id: str
    window_id: int
    env_steps_total: int
    checkpoint_path: str
    metrics: dict[str, Any]
    created_at: datetime
    eval_status: str | None
    eval_error: str | None


class ReplayRecord(_Record):
    replay_id: str
    run_id: str
    window_id: int
    seed: int
    # `return` is a Python keyword; model_dump(by_alias=True) and FastAPI say "return".
    return_: float = Field(serialization_alias="return")
    net_profit: float
    survival: bool
    length: int
    tags: list[str]
    path: str
    created_at: datetime


class WindowPage(_Record):
    items: list[WindowRecord]
    next_after: int | None  # pass back as `after` for the next page; None at the end


class ReplayPage(_Record):
    items: list[ReplayRecord]
    next_cursor: str | None  # pass back as `cursor` for the next page; None at the end
