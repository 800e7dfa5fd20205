"""The catalog: runs, their windows (with metrics) and replays (with tags), in SQL.

    records.py    what readers get back (frozen records, pages) and the vocabulary:
                  run statuses, evaluation states, tags
    tables.py     the SQLAlchemy tables (ORM rows) and their column types
    queries.py    Catalog: opens SQLite or PostgreSQL, every read and write
    migrations/   Alembic revisions of the schema; Catalog.create_all() brings a
                  database to the newest at start (and adopts one made before
                  migrations existed)

Import from here: `from prospector_common.catalog import Catalog, ReplayRecord, ...`.
These are the names the catalog had when it was one module, no more.
"""

from __future__ import annotations

from .queries import MAX_PAGE, Catalog
from .records import (
    EVAL_DONE,
    EVAL_FAILED,
    MILESTONE_PREFIX,
    RUN_STATUSES,
    TAG_BEST_SO_FAR,
    TAG_EVERY_WINDOW,
    TAG_RE,
    ReplayPage,
    ReplayRecord,
    RunRecord,
    WindowPage,
    WindowRecord,
    validate_tag,
)
from .tables import (
    Base,
    JSONType,
    ReplayRow,
    ReplayTagRow,
    RunRow,
    UInt64,
    UTCDateTime,
    WindowRow,
)

__all__ = [
    "EVAL_DONE",
    "EVAL_FAILED",
    "MAX_PAGE",
    "MILESTONE_PREFIX",
    "RUN_STATUSES",
    "TAG_BEST_SO_FAR",
    "TAG_EVERY_WINDOW",
    "TAG_RE",
    "Base",
    "Catalog",
    "JSONType",
    "ReplayPage",
    "ReplayRecord",
    "ReplayRow",
    "ReplayTagRow",
    "RunRecord",
    "RunRow",
    "UInt64",
    "UTCDateTime",
    "WindowPage",
    "WindowRecord",
    "WindowRow",
    "validate_tag",
]
