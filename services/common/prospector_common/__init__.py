"""Pieces every service shares: settings, IDs, run storage, the catalog, Redis streams.

    settings   the one place configuration is read (environment variables)
    ids        run/window/replay IDs: made here, validated before any path or query
    storage    where run files live; atomic writes; append-only JSON Lines
    catalog    SQLAlchemy catalog of runs, windows and replays (SQLite or PostgreSQL)
    streams    stream names and message schemas
    outbox     durable, ordered, exactly-once announcements to Redis
    jsonsafe   strict JSON (numpy values, NaN -> null) for everything stored or sent
"""
