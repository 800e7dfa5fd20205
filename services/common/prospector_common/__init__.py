"""Formats and plumbing every service shares (the prospector-common part), below the services.

    settings    the one place configuration is read (environment variables)
    ids         run/window/replay IDs: made here, validated before any path or query
    storage     where run files live; atomic writes; append-only JSON Lines
    catalog/    the catalog of runs, windows and replays: tables, records, queries, Alembic
                migrations (SQLite or PostgreSQL, upgraded in place on start)
    streams     Redis stream names and message schemas (WindowAnnouncement, ReplayAnnouncement)
    outbox      durable, ordered, exactly-once announcements to Redis
    replay      the replay format: writer (Recorder), readers (header, frames), verify
    curriculum  the env.schedule: which rules are in force at an env step
    policy/     the policy format: network, checkpoints, Actor (torch: the `policy` extra)
    prometheus  one registry per service and its /metrics endpoint
    net         free ports
    jsonsafe    strict JSON (numpy values, NaN -> null) for everything stored or sent
    cli         `prospector replay verify`

Nothing here imports a service; the engine (`prospector`) is the only project package below.
"""
