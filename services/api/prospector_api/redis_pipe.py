"""One pipelined Redis connection per event loop: the play sessions' hot path.

    pipe = connect_pipe("redis://127.0.0.1:6379/0", timeout_s=0.5)   # in the loop that uses it
    reply = await pipe.call("EVALSHA", sha, 3, key1, key2, key3, *args)
    await pipe.aclose()

redis-py's asyncio client spends 65 to 100 us of CPU on a call (connection
pool, a timeout context per read, argument encoding); a play step makes one
call, so that was a fifth of the step. Here a call queues its command on the
loop's single connection and waits for its reply; Redis answers each
connection's commands in order, so replies go to callers first in, first out,
and a call costs about 10 us. Many steps in flight share the connection
(pipelining), and Redis handles one connection per API process.

The commands queued in one turn of the loop go out together, in one write at
the end of the turn. Each write to Redis's socket wakes Redis, and on this VM
the wake-up costs the writer far more than the bytes: in a profile of 16
concurrent play steps each 14 kB write took 75 us, a third of the step, and
compressing the state to a twelfth (zlib) cost more than it saved.

Errors are redis-py's: ConnectionError when Redis cannot be reached or the
connection breaks (every call waiting on it fails, the next call reconnects),
TimeoutError when a reply takes longer than timeout_s (the connection stays
usable: that reply, when it comes, is matched to its abandoned call and
dropped), ResponseError (NoScriptError for NOSCRIPT) for an error reply.

Only redis:// URLs (host, port, db, user, password) are spoken here; any
other (rediss://, unix://) gets redis-py's own client behind the same `call`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import hiredis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

READ_CHUNK = 1 << 16
FALLBACK_CONNECTIONS = 64  # redis-py's pool for URLs this module does not speak


class Pipe:
    """See the module doc. Use it from one event loop only."""

    def __init__(self, host: str, port: int, *, db: int = 0, username: str | None = None,
                 password: str | None = None, timeout_s: float = 0.5) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self._conn: _Connection | None = None
        self._connecting: asyncio.Lock | None = None

    async def call(self, *args: Any) -> Any:
        conn = self._conn if self._conn is not None and not self._conn.broken else await self._connect()
        return await self._call_on(conn, args)

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close(RedisConnectionError("the connection was closed"))
            self._conn = None

    async def _call_on(self, conn: _Connection, args: tuple) -> Any:
        command = _pack(args)  # first: an argument it refuses must not leave a waiter without a command
        loop = conn.loop  # the caller's: a Pipe serves one loop (asking asyncio is a system call on 3.11)
        waiter = loop.create_future()
        conn.waiters.append(waiter)
        conn.send(command)
        # the timeout as one timer on the loop (asyncio.wait_for wraps the future and adds
        # callbacks: several times the cost, on every play step)
        timer = loop.call_later(self.timeout_s, _expire, waiter, args, self.timeout_s)
        try:
            reply = await waiter
        finally:
            timer.cancel()
        if isinstance(reply, ResponseError):
            raise NoScriptError(str(reply)) if str(reply).startswith("NOSCRIPT") else reply
        return reply

    async def _connect(self) -> _Connection:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one connection however many calls find none
            if self._conn is not None and not self._conn.broken:
                return self._conn
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                                        self.timeout_s)
            except (OSError, TimeoutError) as exc:
                raise RedisConnectionError(f"cannot connect to Redis at {self.host}:{self.port}: "
                                           f"{type(exc).__name__}: {exc}") from exc
            conn = _Connection(reader, writer)
            try:
                if self.password is not None:
                    await self._call_on(conn, ("AUTH", self.password) if self.username is None
                                        else ("AUTH", self.username, self.password))
                if self.db:
                    await self._call_on(conn, ("SELECT", self.db))
            except BaseException as exc:
                conn.close(RedisConnectionError(f"Redis refused the connection's set-up: {exc}"))
                raise
            self._conn = conn
            return conn


class _Connection:
    """A socket to Redis, the calls waiting on it in order, and the task that reads the replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.waiters: deque[asyncio.Future] = deque()
        self.broken = False
        self.outgoing: list[bytes] = []  # commands of this loop turn, sent together by flush
        self.loop = asyncio.get_running_loop()
        self.task = self.loop.create_task(self._read(reader))

    def send(self, command: bytes) -> None:
        """Queue a command; the first of a loop turn schedules the turn's flush."""
        if not self.outgoing:
            self.loop.call_soon(self.flush)
        self.outgoing.append(command)

    def flush(self) -> None:
        commands, self.outgoing = self.outgoing, []
        if not commands or self.broken:  # broken: close() has failed their calls already
            return
        try:
            self.writer.writelines(commands)
        except Exception as exc:  # noqa: BLE001 - their callers hear it now, not at their timeout
            self.close(RedisConnectionError(f"cannot write to Redis: {type(exc).__name__}: {exc}"))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        parser = hiredis.Reader(replyError=ResponseError)
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    raise RedisConnectionError("Redis closed the connection")
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    waiter = self.waiters.popleft()
                    if not waiter.done():  # done: its caller timed out and went away
                        waiter.set_result(reply)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever broke the connection fails its calls
            error = exc if isinstance(exc, RedisConnectionError) else RedisConnectionError(
                f"the connection to Redis broke: {type(exc).__name__}: {exc}")
            self.close(error)

    def close(self, error: Exception) -> None:
        self.broken = True
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)
        if asyncio.current_task() is not self.task:
            self.task.cancel()
        self.writer.close()


class RedisPyCaller:
    """redis-py's asyncio client behind `call`, for URLs the Pipe does not speak."""

    def __init__(self, url: str, timeout_s: float) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=FALLBACK_CONNECTIONS, timeout=10 * timeout_s, socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s, retry=Retry(NoBackoff(), 0))
        self.client = aioredis.Redis.from_pool(pool)

    async def call(self, *args: Any) -> Any:
        return await self.client.execute_command(*args)

    async def aclose(self) -> None:
        await self.client.aclose()


Caller = Pipe | RedisPyCaller


def connect_pipe(url: str, *, timeout_s: float = 0.5) -> Caller:
    """A caller for url: the Pipe for redis:// (connects at the first call), else redis-py's client."""
    if urlsplit(url).scheme != "redis":
        return RedisPyCaller(url, timeout_s)
    options = parse_url(url)
    return Pipe(options.get("host", "localhost"), int(options.get("port", 6379)), db=int(options.get("db", 0)),
                username=options.get("username"), password=options.get("password"), timeout_s=timeout_s)


def _encode(value: Any) -> bytes:
    # exact types first: a play step packs a dozen arguments, and the isinstance chain below
    # (kept for subclasses) cost more than the rest of the packing
    kind = type(value)
    if kind is bytes:
        return value
    if kind is str:
        return value.encode()
    if kind is int:
        return b"%d" % value
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode()
    raise TypeError(f"a Redis argument must be bytes, str or int, not {type(value).__name__}")


# str and int arguments as RESP bulk strings, kept: a play step's commit repeats most of its
# arguments (the script's SHA, the session's keys and id, the TTLs), and encoding each anew was
# most of the command's packing (11 -> 5 us for a commit's 16 arguments)
_BULKS: dict[str | int, bytes] = {}
BULKS_KEPT = 4096  # then the table starts again: versions, one new int a step, would fill it


def _pack(args: tuple) -> bytes:
    """The command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        kind = type(arg)
        if kind is str or kind is int:  # exactly: a bool is refused by _encode, not cached as 1
            bulk = _BULKS.get(arg)
            if bulk is None:
                bulk = _bulk(_encode(arg))
                if len(_BULKS) >= BULKS_KEPT:
                    _BULKS.clear()
                _BULKS[arg] = bulk
        else:
            bulk = _bulk(_encode(arg))
        parts.append(bulk)
    return b"".join(parts)


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _expire(waiter: asyncio.Future, args: tuple, timeout_s: float) -> None:
    """A call's time is up: its caller gets TimeoutError; the reply, if it comes, is dropped."""
    if not waiter.done():
        waiter.set_exception(RedisTimeoutError(f"Redis did not answer {_name(args)} within {timeout_s:g} s"))


def _name(args: tuple) -> str:
    return str(args[0]) if args else "a command"
