"""The catalog's revisions. Alembic loads them by path; this file makes them part of the package."""
