"""Announcements reach Redis in order, exactly once, even across Redis outages and crashes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis
from prospector_common.outbox import Announcer, Outbox, OutboxEntry, dedupe_key
from prospector_common.streams import WindowAnnouncement

from .conftest import REDIS_URL, PrivateRedis, free_port

RUN_ID = "20250102-030405-1a2b3c4-9f0e"


def window_message(window: int) -> WindowAnnouncement:
    return WindowAnnouncement(
        run_id=RUN_ID,
        window_id=window,
        env_steps=(window + 1) * 1000,
        checkpoint_path=f"{RUN_ID}/checkpoints/ckpt_{window}.pt",
        metrics={"return_mean": window * 0.5},
    )


def announce(announcer: Announcer, stream: str, window: int) -> bool:
    message = window_message(window)
    return announcer.announce(stream, message.msg_id, message.to_fields())


def windows_in(client: redis.Redis, stream: str) -> list[int]:
    return [WindowAnnouncement.from_fields(fields).window_id for _, fields in client.xrange(stream)]


def test_an_announcement_reaches_the_stream_once_with_the_documented_fields(
    tmp_path: Path, redis_client: redis.Redis, stream_name: str
) -> None:
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(REDIS_URL, outbox)
        assert announcer.announce(stream_name, window_message(0).msg_id, window_message(0).to_fields())
        assert announcer.pending_count() == 0 and announcer.last_error is None
        [(_, fields)] = redis_client.xrange(stream_name)
        assert WindowAnnouncement.from_fields(fields) == window_message(0)
        assert redis_client.sismember(dedupe_key(stream_name), f"{RUN_ID}:0")
        announcer.close()


def test_announcing_the_same_message_again_adds_nothing(
    tmp_path: Path, redis_client: redis.Redis, stream_name: str
) -> None:
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(REDIS_URL, outbox)
        for _ in range(3):
            assert announce(announcer, stream_name, 0)
        assert windows_in(redis_client, stream_name) == [0]
        announcer.close()


def test_announce_message_uses_the_messages_own_stream(tmp_path: Path, private_redis: PrivateRedis) -> None:
    # A private server, so the real stream name touches no one else's entries.
    message = window_message(0)
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(private_redis.url, outbox)
        assert announcer.announce_message(message)
        with private_redis.client() as client:
            assert windows_in(client, "prospector:windows") == [0]
        announcer.close()


def test_with_redis_unreachable_announcements_queue_quickly_and_survive_a_restart(
    tmp_path: Path, redis_client: redis.Redis, stream_name: str
) -> None:
    dead_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(dead_url, outbox)
        started = time.monotonic()
        for window in range(3):
            assert announce(announcer, stream_name, window) is False
        assert time.monotonic() - started < 1.0
        assert announcer.pending_count() == 3 and "ConnectionError" in (announcer.last_error or "")
        announcer.close()
    # The trainer process ends; a later one (say, --resume) opens the same outbox.
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(REDIS_URL, outbox)
        assert announcer.flush() == 3
        assert windows_in(redis_client, stream_name) == [0, 1, 2]
        assert announcer.pending_count() == 0
        announcer.close()


def test_reflushing_after_a_crash_between_xadd_and_mark_sent_does_not_duplicate(
    tmp_path: Path, redis_client: redis.Redis, stream_name: str
) -> None:
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        for window in range(2):
            message = window_message(window)
            outbox.append(stream_name, message.msg_id, message.to_fields())
        first = outbox.unsent()[0]
        crashed = Announcer(REDIS_URL, outbox)
        assert crashed.send(first)  # in Redis now; the process dies before mark_sent
        crashed.close()
        assert outbox.pending_count() == 2
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(REDIS_URL, outbox)
        assert announcer.flush() == 2
        assert windows_in(redis_client, stream_name) == [0, 1]
        assert announcer.send(OutboxEntry(1, stream_name, first.msg_id, first.fields)) is False
        assert windows_in(redis_client, stream_name) == [0, 1]
        announcer.close()


def test_a_flush_deadline_leaves_the_rest_queued_in_order(
    tmp_path: Path, redis_client: redis.Redis, stream_name: str
) -> None:
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        for window in range(3):
            message = window_message(window)
            outbox.append(stream_name, message.msg_id, message.to_fields())
        announcer = Announcer(REDIS_URL, outbox)
        assert announcer.flush(deadline_s=0) == 0
        assert announcer.pending_count() == 3
        assert announcer.flush() == 3
        assert windows_in(redis_client, stream_name) == [0, 1, 2]
        announcer.close()


def test_redis_stopped_and_restarted_every_window_arrives_once_in_order(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    stream = "prospector:windows"  # a private server: the real name is safe here
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(private_redis.url, outbox)
        for window in range(3):
            assert announce(announcer, stream, window)
        private_redis.stop()
        started = time.monotonic()
        for window in range(3, 6):
            assert announce(announcer, stream, window) is False  # queued, no exception
        assert time.monotonic() - started < 1.5, "a dead Redis must not stall training"
        assert announcer.pending_count() == 3
        private_redis.start()  # same port, data saved at shutdown
        assert announcer.flush() == 3
        with private_redis.client() as client:
            assert windows_in(client, stream) == [0, 1, 2, 3, 4, 5]
        assert announcer.pending_count() == 0 and announcer.last_error is None
        announcer.close()


def test_drain_waits_out_a_redis_restart_and_gives_up_at_its_deadline(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    # What a sender about to exit does: nobody flushes its outbox after it.
    stream = "prospector:windows"
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(private_redis.url, outbox)
        assert not announcer.reached
        assert announce(announcer, stream, 0) and announcer.reached
        private_redis.stop()
        for window in (1, 2):
            assert announce(announcer, stream, window) is False
        restart = threading.Timer(1.0, private_redis.start)  # back after the first attempts failed
        restart.start()
        try:
            started = time.monotonic()
            assert announcer.drain(deadline_s=20) == 2
            assert 0.9 < time.monotonic() - started < 15
        finally:
            restart.join()
        with private_redis.client() as client:
            assert windows_in(client, stream) == [0, 1, 2]
        assert announcer.pending_count() == 0 and announcer.last_error is None

        private_redis.stop()  # and this time it stays down
        assert announce(announcer, stream, 3) is False
        started = time.monotonic()
        assert announcer.drain(deadline_s=1.0, retry_every_s=0.2) == 0
        assert 0.7 < time.monotonic() - started < 2.0
        assert announcer.pending_count() == 1 and "ConnectionError" in (announcer.last_error or "")
        private_redis.start()
        announcer.close()


def test_a_hung_redis_costs_only_the_timeout_and_nothing_is_lost_or_doubled(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    stream = "prospector:windows"
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        announcer = Announcer(private_redis.url, outbox, timeout_s=0.3)
        for window in range(3):
            assert announce(announcer, stream, window)
        private_redis.pause()  # accepts connections, never answers
        try:
            for window in range(3, 6):
                started = time.monotonic()
                assert announce(announcer, stream, window) is False
                assert time.monotonic() - started < 1.0
            assert "Timeout" in (announcer.last_error or "")
        finally:
            private_redis.resume()
        # The timed-out sends of window 3 may still run once the server wakes
        # up: the dedupe set turns them into no-ops.
        assert announcer.flush() == 3
        with private_redis.client() as client:
            assert windows_in(client, stream) == [0, 1, 2, 3, 4, 5]
        announcer.close()


def test_an_entry_redis_would_refuse_is_refused_before_it_can_block_the_queue(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        for fields in ({}, {"window_id": 3}):
            with pytest.raises(TypeError):
                outbox.append("s", "m", fields)  # type: ignore[arg-type]
        assert outbox.pending_count() == 0
