"""Alembic's environment for the catalog: every migration command runs this file.

At run time, upgrade_to_head (__init__.py) hands over an open connection, in a
transaction and holding the schema lock, in config.attributes["connection"];
this file only runs the revisions on it, and the caller commits.

From the command line (python -m prospector_common.catalog.migrations ...)
there is no connection: this file opens the catalog at the database URL given
with `-x url=...`, else the settings' (DATABASE_URL, else the SQLite file in
the data dir), and takes the same lock. With --sql it only prints the SQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from prospector_common.catalog.migrations import schema_lock
from prospector_common.catalog.tables import Base

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        # For `revision --autogenerate`, which compares the database with tables.py.
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it; only autogenerate reads this.
        # Beware there: with PRAGMA foreign_keys=ON (queries.py), dropping the
        # old copy of a referenced table cascades, so such a revision must move
        # the rows of the tables below it too, or avoid the copy.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from prospector_common.settings import get_settings

    return get_settings().database_url


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
elif context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    from prospector_common.catalog.queries import Catalog

    with Catalog(database_url()) as catalog, schema_lock(catalog.engine) as locked:
        run_on(locked)
