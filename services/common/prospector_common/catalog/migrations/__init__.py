"""Schema migrations of the catalog (Alembic), and bringing a database to the newest one.

    __init__.py   upgrade_to_head(engine): what Catalog.create_all() runs at every start
    env.py        Alembic's environment: runs the revisions on the connection it is given
    versions/     the revisions, oldest first: 0001_baseline is the schema as it was
                  before migrations existed (Base.metadata.create_all), exactly
    __main__.py   Alembic's command line for developers (new revisions, history)

No alembic.ini: the configuration is built here, in code, pointing at this
directory, and the open connection is handed to env.py in
`config.attributes["connection"]`.

What upgrade_to_head finds, and does:

- `alembic_version` at the head revision: nothing (no lock, no write);
- no catalog tables and no version (a fresh database): every revision;
- the catalog tables but no version (made by the code before migrations,
  whose catalogs are kept in ./runs between runs): stamped as the baseline,
  which is exactly what that code created, then upgraded to head in place;
- an older revision: the revisions after it.

Services start concurrently (two evaluators, the trainer, the API, against one
PostgreSQL), so the check and the upgrade run in one transaction that first
takes a lock: a transaction-scoped advisory lock on PostgreSQL, SQLite's write
lock (BEGIN IMMEDIATE) on SQLite. The second starter waits, then sees the head
and does nothing. DDL is transactional on both databases, so a start that
fails half way leaves the schema as it was.

To write a new revision (the tables in tables.py change with it):

    python -m prospector_common.catalog.migrations revision --rev-id 0003_short_name -m "what changes"

and fill in upgrade() and downgrade() by hand, for both databases; the
migration tests compare the result with tables.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
BASELINE = "0001_baseline"
VERSION_TABLE = "alembic_version"  # Alembic's default name, where it keeps the revision
# The tables the code before migrations created, all at once.
CATALOG_TABLES = frozenset({"runs", "windows", "replays", "replay_tags"})

# First key of the PostgreSQL advisory lock (any fixed int4; this one spells
# "PRSP"); the second is the schema, so catalogs in two schemas of one database
# do not wait for each other.
_PG_LOCK_KEY = 0x50525350
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(), '')))")

# Alembic's `context` and `op` are module-level proxies, so two migrations run
# from one process at once (two Catalogs on two databases) would trample each
# other. The database lock only orders processes; this orders threads. It is
# always taken before the database lock, never while holding it.
_process_lock = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the catalog, with `connection` for env.py to use."""
    config = Config()
    # Config values are %-interpolated; a % in the path must not be read as one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest revision in versions/ (read once: they do not change while the process runs)."""
    with _process_lock:  # reading the revisions loads their files as modules
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the catalog has at least its baseline revision"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: no alembic_version, or an empty one).

    Read directly rather than through Alembic's MigrationContext, which logs
    two INFO lines each time: every service start would log them.
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(
            f"catalog database is at several revisions {versions}; its revisions form one line"
        )
    return versions[0] if versions else None


@contextmanager
def schema_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the catalog's schema lock until it commits or rolls back.

    `engine` is a Catalog's: on SQLite its begin hook (queries.py) turns the
    prospector_write option into BEGIN IMMEDIATE, which takes the database's
    write lock at once; another starter waits for it (busy_timeout).
    """
    if engine.dialect.name == "sqlite":
        with engine.execution_options(prospector_write=True).begin() as connection:
            yield connection
    else:
        with engine.begin() as connection:
            connection.execute(_PG_LOCK, {"key": _PG_LOCK_KEY})
            yield connection


def upgrade_to_head(engine: Engine) -> str:
    """Bring the database behind `engine` (a Catalog's) to the head revision; return it."""
    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:
            return head  # every start after the first: nothing to do, no lock taken
    with _process_lock, schema_lock(engine) as connection:
        # Again, under the lock: another starter may have done it meanwhile.
        current = current_revision(connection)
        if current is None:
            present = CATALOG_TABLES & set(inspect(connection).get_table_names())
            if present == CATALOG_TABLES:
                log.info("catalog made before migrations: stamping it as %s", BASELINE)
                command.stamp(alembic_config(connection), BASELINE)
                current = BASELINE
            elif present:
                raise RuntimeError(
                    f"catalog database has tables {sorted(present)} but not "
                    f"{sorted(CATALOG_TABLES - present)}, and no migration version: "
                    "not a catalog this code made; refusing to guess"
                )
        if current != head:
            log.info("catalog schema: upgrading from %s to %s", current or "nothing", head)
            command.upgrade(alembic_config(connection), "head")
    return head
