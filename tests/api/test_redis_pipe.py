"""The play sessions' pipelined Redis connection, against the real Redis: replies reach their own
callers, errors and timeouts leave the connection in step, a broken connection is replaced."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from prospector_api import redis_pipe
from prospector_api.redis_pipe import Pipe, RedisPyCaller, connect_pipe
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .conftest import REDIS_URL, free_port


def _run(coroutine):
    return asyncio.run(coroutine)


def test_many_calls_in_flight_each_get_their_own_reply(prefix):
    async def go() -> list:
        pipe = connect_pipe(REDIS_URL)
        try:
            await asyncio.gather(*(pipe.call("SET", f"{prefix}:k{i}", b"v%d" % i) for i in range(300)))
            return await asyncio.gather(*(pipe.call("GET", f"{prefix}:k{i}") for i in range(300)))
        finally:
            await pipe.aclose()

    assert isinstance(connect_pipe(REDIS_URL), Pipe)
    assert _run(go()) == [b"v%d" % i for i in range(300)]


def test_error_replies_raise_and_the_connection_stays_in_step(prefix):
    async def go() -> None:
        pipe = connect_pipe(REDIS_URL)
        try:
            with pytest.raises(NoScriptError):
                await pipe.call("EVALSHA", "0" * 40, 0)
            with pytest.raises(ResponseError, match="wrong number of arguments"):
                await pipe.call("GET")
            assert await pipe.call("EVAL", "return {1, ARGV[1]}", 0, 42) == [1, b"42"]
        finally:
            await pipe.aclose()

    _run(go())


def test_a_late_reply_goes_to_its_abandoned_call_not_the_next(prefix):
    key = f"{prefix}:list"

    async def go() -> None:
        pipe = connect_pipe(REDIS_URL, timeout_s=0.1)
        try:
            with pytest.raises(RedisTimeoutError):
                await pipe.call("BLPOP", key, "0.3")  # Redis answers (nil) after 0.3 s
            await asyncio.sleep(0.35)
            assert await pipe.call("ECHO", "mine") == b"mine"
        finally:
            await pipe.aclose()

    _run(go())


def test_a_killed_connection_fails_its_calls_and_the_next_call_reconnects(redis_client):
    async def go() -> None:
        pipe = connect_pipe(REDIS_URL)
        try:
            first = await pipe.call("CLIENT", "ID")
            redis_client.client_kill_filter(_id=first)
            with pytest.raises(RedisConnectionError):
                await pipe.call("PING")
            assert await pipe.call("PING") == b"PONG"
            assert await pipe.call("CLIENT", "ID") != first
        finally:
            await pipe.aclose()

    _run(go())


def test_unreachable_redis_is_a_connection_error():
    async def go() -> None:
        pipe = connect_pipe(f"redis://127.0.0.1:{free_port()}/0")
        with pytest.raises(RedisConnectionError, match="cannot connect"):
            await pipe.call("PING")

    _run(go())


def test_the_urls_database_is_selected(redis_client):
    key = f"test:{uuid.uuid4().hex[:12]}:db"
    other = REDIS_URL.rsplit("/", 1)[0] + "/3"

    async def go() -> None:
        pipe = connect_pipe(other)
        try:
            await pipe.call("SET", key, "x", "EX", 60)
        finally:
            await pipe.aclose()

    _run(go())
    in_db3 = redis.Redis.from_url(other)
    try:
        assert in_db3.get(key) == b"x" and redis_client.get(key) is None
    finally:
        in_db3.delete(key)
        in_db3.close()


def test_other_schemes_use_redis_py():
    assert isinstance(connect_pipe("unix:///nonexistent/redis.sock"), RedisPyCaller)


def test_the_commands_of_one_loop_turn_reach_redis_in_one_write(prefix):
    async def go() -> tuple[list, list]:
        pipe = connect_pipe(REDIS_URL)
        try:
            assert await pipe.call("PING") == b"PONG"
            writer, writes = pipe._conn.writer, []  # the real connection, its writes counted
            real_write, real_writelines = writer.write, writer.writelines
            writer.write = lambda data: (writes.append(1), real_write(data))[1]
            writer.writelines = lambda data: (writes.append(len(data)), real_writelines(data))[1]
            replies = await asyncio.gather(*(pipe.call("SET", f"{prefix}:w{i}", i) for i in range(100)))
            return replies, writes
        finally:
            await pipe.aclose()

    replies, writes = _run(go())
    assert replies == [b"OK"] * 100
    assert writes == [100]  # one write carrying all hundred commands


def test_arguments_reach_redis_as_given_however_often_they_repeat(prefix, monkeypatch):
    """Repeated str and int arguments are packed from a table (kept up to BULKS_KEPT, then begun
    again): the same value stays the same, an int and the str of it agree, and a bool is still
    refused rather than taken for the 1 it hashes as."""
    monkeypatch.setattr(redis_pipe, "BULKS_KEPT", 5)  # so that the table starts again mid-test
    values = ["é", "", 0, -7, 2**62, "0", b"\x00\r\n", "key with spaces", 42, "42"]

    async def go() -> list:
        pipe = connect_pipe(REDIS_URL)
        try:
            replies = []
            for _ in range(3):
                for i, value in enumerate(values):
                    await pipe.call("SET", f"{prefix}:b{i}", value)
                    replies.append(await pipe.call("GET", f"{prefix}:b{i}"))
            with pytest.raises(TypeError, match="bool"):
                await pipe.call("SET", f"{prefix}:bool", True)
            assert await pipe.call("ECHO", 1) == b"1"  # 1 still packs as itself after True was refused
            return replies
        finally:
            await pipe.aclose()

    expected = [value if isinstance(value, bytes) else str(value).encode() for value in values]
    assert _run(go()) == expected * 3
    assert len(redis_pipe._BULKS) <= 5
