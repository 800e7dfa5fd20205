"""Announcements that survive a dead Redis: a durable outbox and its sender.

The trainer must keep training while Redis is down, and no window may be lost
or announced twice. So an announcement is first committed to a local SQLite
file (the outbox), then sent; `flush` sends what is unsent in order and stops
at the first Redis error, leaving the rest for the next flush.

Exactly once: a process can die after Redis added the entry but before the
outbox marked it sent, and then send it again. The send is therefore one Lua
script, atomic in Redis, that adds the entry only if its msg_id is not yet in
the stream's dedupe set (`prospector:sent:{stream}`), and records it there.
The set grows by one short member per message (a window or a replay), small
enough to keep forever, which is what "exactly once" needs.

One process should own an outbox file at a time (the trainer: one per run,
in the run dir). Two would still not duplicate entries, but could interleave.
So a sender about to exit `drain`s its outbox: nobody else flushes it, and a
Redis restart (seconds) must not leave announcements behind.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .jsonsafe import dumps
from .streams import Announcement

log = logging.getLogger(__name__)

OUTBOX_FILENAME = "outbox.sqlite"
DEDUPE_KEY = "prospector:sent:{stream}"

# KEYS[1] dedupe set, KEYS[2] stream; ARGV[1] msg_id, ARGV[2..] field, value, ...
# SISMEMBER first and SADD after XADD (rather than one SADD up front): a Lua
# error is not rolled back, so an XADD that fails must not leave the id marked.
_SEND_ONCE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return false
end
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
redis.call('SADD', KEYS[1], ARGV[1])
return id
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    stream     TEXT NOT NULL,
    msg_id     TEXT NOT NULL,
    fields     TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at    REAL,
    UNIQUE (stream, msg_id)
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
"""


def dedupe_key(stream: str) -> str:
    """The Redis set of msg_ids already added to `stream`."""
    return DEDUPE_KEY.format(stream=stream)


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    stream: str
    msg_id: str
    fields: dict[str, str]


class Outbox:
    """Ordered, durable announcements in an SQLite file (committed and fsynced per append)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, guarded by a lock: a status thread may ask for counts.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed append survives power loss
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, stream: str, msg_id: str, fields: dict[str, str]) -> bool:
        """Queue a message durably; False if (stream, msg_id) was queued before.

        The first version of a message wins: announcing the same fact again
        (e.g. after a resume) changes nothing.
        """
        if not fields or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
            # XADD needs at least one pair; an entry Redis refuses would block the queue for good.
            raise TypeError("outbox fields must be a non-empty str -> str map (use to_fields())")
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO outbox (stream, msg_id, fields, created_at) VALUES (?, ?, ?, ?)",
                (stream, msg_id, dumps(fields), time.time()),
            )
            return cursor.rowcount == 1

    def unsent(self, limit: int = 100) -> list[OutboxEntry]:
        """The oldest unsent entries, in the order they were appended."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, stream, msg_id, fields FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [OutboxEntry(seq, stream, msg_id, json.loads(fields)) for seq, stream, msg_id, fields in rows]

    def mark_sent(self, seq: int) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET sent_at = ? WHERE seq = ?", (time.time(), seq))

    def pending_count(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(count)

    def is_sent(self, stream: str, msg_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT sent_at IS NOT NULL FROM outbox WHERE stream = ? AND msg_id = ?", (stream, msg_id)
            ).fetchone()
        return bool(row and row[0])


def connect_redis(url: str, *, timeout_s: float = 0.5, **kwargs: Any) -> redis.Redis:
    """A client that gives up fast: short connect/read timeouts and no retries.

    A dead or hung Redis then costs a caller about `timeout_s`, not the
    client's default of seconds per retry.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        **kwargs,
    )


class Announcer:
    """Sends outbox entries to Redis streams, in order, each exactly once."""

    def __init__(self, redis_url: str, outbox: Outbox, *, timeout_s: float = 0.5) -> None:
        self.outbox = outbox
        self.redis = connect_redis(redis_url, timeout_s=timeout_s)
        self._send_once = self.redis.register_script(_SEND_ONCE)  # EVALSHA, reloaded after a restart
        self.last_error: str | None = None  # the latest Redis failure, for status and logs
        self.reached = False  # Redis has taken an entry from this sender: an outage now is a restart

    def close(self) -> None:
        self.redis.close()

    def announce(self, stream: str, msg_id: str, fields: dict[str, str]) -> bool:
        """Queue the message durably, then flush; True if it has reached Redis.

        Never raises for Redis trouble: the message waits in the outbox.
        """
        self.outbox.append(stream, msg_id, fields)
        self.flush()
        return self.outbox.is_sent(stream, msg_id)

    def announce_message(self, message: Announcement) -> bool:
        """announce() for a streams.py message, on its own stream."""
        return self.announce(message.STREAM, message.msg_id, message.to_fields())

    def send(self, entry: OutboxEntry) -> bool:
        """Add one entry to its stream unless already there; True if added now.

        Raises redis errors. Safe to repeat: that is what makes flush exactly-once.
        """
        args: list[str] = [entry.msg_id]
        for key, value in entry.fields.items():
            args += [key, value]
        return self._send_once(keys=[dedupe_key(entry.stream), entry.stream], args=args) is not None

    def flush(self, deadline_s: float | None = None) -> int:
        """Send unsent entries in order until done, a Redis error, or the deadline.

        Returns how many entries were marked sent. A Redis error stops the
        flush (a later entry must not overtake an earlier one) and is kept in
        `last_error`; the entries stay queued for the next flush.
        """
        start = time.monotonic()
        done = 0
        while True:
            batch = self.outbox.unsent()
            if not batch:
                if self.last_error is not None:
                    log.info("Redis reachable again; queued announcements sent")
                self.last_error = None
                return done
            for entry in batch:
                if deadline_s is not None and time.monotonic() - start >= deadline_s:
                    return done
                try:
                    self.send(entry)
                except (redis.RedisError, OSError) as exc:
                    # Warn once per outage, not at every window while it lasts.
                    level = logging.WARNING if self.last_error is None else logging.DEBUG
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.log(
                        level,
                        "Redis unavailable, %d announcement(s) queued: %s",
                        self.outbox.pending_count(),
                        self.last_error,
                    )
                    return done
                self.reached = True
                self.outbox.mark_sent(entry.seq)
                done += 1

    def drain(self, deadline_s: float, retry_every_s: float = 0.5) -> int:
        """flush() again after Redis errors until nothing is queued or the deadline passes.

        For a sender about to exit: its queue waits for no later flush, and a
        Redis that is restarting answers again within seconds. Returns how
        many entries were marked sent.
        """
        end = time.monotonic() + deadline_s
        done = self.flush(deadline_s=deadline_s)
        while self.outbox.pending_count() and time.monotonic() + retry_every_s < end:
            time.sleep(retry_every_s)
            done += self.flush(deadline_s=end - time.monotonic())
        return done

    def pending_count(self) -> int:
        """Announcements not yet in Redis."""
        return self.outbox.pending_count()
