"""Play sessions, held in Redis as the engine's saved state, so any replica serves any session.

One session is three Redis keys under the prefix (default prospector:play):

    {prefix}:s:{id}        hash: state (Engine.save(), 13,864 bytes), log (the
                           actions stepped since that state, one byte each),
                           version, seed, config (JSON), created_ms, expires_ms;
                           PEXPIRE = the idle TTL, renewed by a step or reset
                           that moves it by at least renew_ms (see below)
    {prefix}:known:{id}    "live" or "closed", kept `tombstone_s` longer, so a
                           late request can tell "expired" from "never existed"
    {prefix}:sessions      sorted set id -> expiry (ms): the cap counts its
                           members whose expiry is still ahead
    {prefix}:client:{addr} set of the ids a client created (its address: see
                           limits.client_key), kept as long as its newest live
                           session; the per-client cap counts those still in
                           {prefix}:sessions

A step restores the state into an engine, replays the log, steps, and commits
with a compare-and-set on `version` (one EVALSHA). The commit appends the
step's action to the log (one byte) rather than writing the whole state back;
every LOG_LIMIT steps, and on every reset, it writes the saved state and
empties the log. The engine is deterministic, so the state plus its log is
the session exactly, and a step sends Redis a few dozen bytes where the state
is 14 kB: Redis's CPU per step fell by more than half and a worker saves the
engine once in 64 steps (the write's system call costs the worker as much as
before; README, bench api). The version is always the state's version plus the
log's length. Two concurrent steps on one session both start from version v;
one commits v+1, the other finds v+1, reads the new state and starts again. So
every action is applied exactly once, in some order, and a session is never
corrupted; a replica that dies mid-step loses only that step's write.

Each process keeps the engines of recently used sessions warm (an LRU of
CACHE_SESSIONS, each with the version of Redis's state it holds), so the
common step is one round trip: step the warm engine, compare-and-set against
the version it holds. A call checks the warm engine out of the cache and
back in after its commit, so no two calls ever share an engine (a concurrent
call on the same session loads its own from Redis) and no lock is held
across an await. When another replica moved the session on, the
compare-and-set fails and the step starts again from Redis's state; Redis
stays the only truth, the cache only saves the read and the restore.
Creation is one script too: drop expired members, check the client's cap and
the total cap, add.
Time is Redis's own (TIME), so replicas with skewed clocks agree on expiry.
A commit renews the session's expiry (its hash, its entry in the index, its
client's set, its tombstone: four writes, about a third of the script's time
in Redis) only when that moves it by at least renew_ms, a tenth of the TTL
and at most a second; so a session stepped ten times a second renews once a
second, and may expire up to renew_ms sooner than a TTL after its last step.

The play calls are coroutines: HTTP handlers and the gRPC servicer run them
on the event loop itself, with no thread hop per step (the engine work in
between, about 0.1 ms, is plain synchronous code). Each event loop gets its
own pipelined Redis connection (prospector_api.redis_pipe; asyncio
connections belong to the loop that opened them), so one store serves
uvicorn's loop and a gRPC server's loop alike. `ping` and `active_count`
stay synchronous (redis-py), for readiness checks and /metrics.

Both transports (HTTP and gRPC) use this class; their errors map from the
exceptions below.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
import redis
from redis.exceptions import NoScriptError
from prospector import spec
from prospector.engine import Engine
from prospector.spec import EnvConfig, as_config
from prospector_common.ids import InvalidId
from prospector_common.outbox import connect_redis

from .redis_pipe import Caller, connect_pipe

SESSION_ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")
SESSION_ID_PATTERN = "^[0-9a-f]{32}$"  # the same, for OpenAPI
# One seed range for play on every transport (HTTP, gRPC, the page) and for the seeds the
# engine draws itself (a reset without a seed takes Engine.next_seed, under PR_SEED_MAX):
# 0..2**53-1, the integers every JSON reader (JavaScript's numbers) holds exactly.
MAX_SEED = 2**53 - 1
RANDOM_SEED_BITS = 53  # random seeds: the whole range
COMMIT_ATTEMPTS = 50  # compare-and-set retries before giving up (SessionBusy)
CACHE_SESSIONS = 1024  # engines kept warm per process (about 30 kB each)
# actions logged after a saved state before the next commit saves the state again: a cold load
# replays at most this many steps (about 0.5 us each); a commit of the state costs 14 kB of writes
LOG_LIMIT = 64
RETRY_PAUSE_S = 0.0005  # after a lost compare-and-set, before reading the winner's state
RENEW_MAX_MS = 1000  # a commit renews the expiry when that moves it this far (or a tenth of the TTL)

# ---- errors (each transport maps them to its status codes) ---------------------------


class PlayError(Exception):
    """Base of the session store's errors; str() is the message for the client.

    retry_after_s: when the client may try again (a rate or a cap), for Retry-After."""

    def __init__(self, message: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SessionNotFound(PlayError):
    """No such session: never created, or closed."""


class SessionExpired(PlayError):
    """The session existed but expired (idle longer than the TTL) or its state is unreadable."""


class SessionCapReached(PlayError):
    """As many sessions as allowed are live (in all, or of one client)."""


class ClientLimited(PlayError):
    """A client asked more often than its rate allows (new sessions or steps a second)."""


class StoreUnavailable(PlayError):
    """Redis did not answer."""


class SessionBusy(PlayError):
    """Too many concurrent writers on one session; try again."""


class InvalidAction(PlayError, ValueError):
    """An action that is not an integer in 0..68."""


def validate_session_id(value: object) -> str:
    """Return `value` if it is a well-formed session id (32 lowercase hex), else InvalidId."""
    if not isinstance(value, str):
        raise InvalidId(f"session_id must be a string, got {type(value).__name__}")
    if not SESSION_ID_RE.match(value):
        shown = repr(value if len(value) <= 80 else value[:80] + "...")
        raise InvalidId(f"session_id {shown} is not 32 lowercase hex characters")
    return value


def check_action(value: object) -> int:
    """The action as an int if it is an integer in 0..68, else InvalidAction saying the range."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < spec.N_ACTIONS:
        raise InvalidAction(
            f"action must be an integer in 0..{spec.N_ACTIONS - 1} (see /api/meta), got {value!r}"
        )
    return value


def check_seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"seed must be an integer in 0..2**53-1 ({MAX_SEED}), got {value!r}")
    return value


def check_log(log: bytes) -> None:
    """ValueError unless `log` is one this API could have written: at most LOG_LIMIT actions, each
    in 0..68 (Redis is a trust boundary: a forged log must not make a load step for long)."""
    if len(log) > LOG_LIMIT:
        raise ValueError(f"its action log holds {len(log)} actions, more than the {LOG_LIMIT} ever written")
    if log and max(log) >= spec.N_ACTIONS:
        raise ValueError(f"its action log holds action {max(log)}, outside 0..{spec.N_ACTIONS - 1}")


# ---- what a call returns ------------------------------------------------------------------


def dump_json(value: Any) -> bytes:
    """Play replies on the wire (HTTP bodies, gRPC's state_json): orjson, several times faster
    than json on a render state, the largest part of a step's reply."""
    return orjson.dumps(value)


@dataclass(frozen=True)
class ViewOptions:
    """What to put in a reply besides the essentials."""

    include_state: bool = True
    include_observation: bool = False


@dataclass
class SessionView:
    """A session after create, reset, get or step (step fields set only by step)."""

    session_id: str
    seed: int
    config: dict[str, Any]
    expires_at: float  # unix seconds
    t: int
    action_mask: list[bool]
    state_json: bytes | None  # the render state as JSON (Engine.render_json), None when not asked for
    observation: list[float] | None
    action: int = -1
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info_json: bytes = b"null"  # {"events": the last step's, "episode": its metrics once it has ended}

    def _state(self) -> orjson.Fragment | None:
        return None if self.state_json is None else orjson.Fragment(self.state_json)

    def session_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "seed": self.seed,
            "config": self.config,
            "expires_at": self.expires_at,
            "t": self.t,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "state": self._state(),
            "action_mask": self.action_mask,
            "observation": self.observation,
        }

    def step_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "action": self.action,
            "reward": self.reward,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "t": self.t,
            "expires_at": self.expires_at,
            "state": self._state(),
            "info": orjson.Fragment(self.info_json),
            "action_mask": self.action_mask,
            "observation": self.observation,
        }


# ---- Lua: each is one atomic round trip ------------------------------------------------

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: index, session, known, client. ARGV: id, ttl_ms, cap, tombstone_ms, state, seed, config,
# client_cap (0: none), client -> {1, expires_ms} created, {0, ms until a slot frees} the cap,
# {-1, ms until one of the client's sessions expires} the client's cap
_CREATE = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local client_cap = tonumber(ARGV[8])
if client_cap > 0 then
  local live, soonest = 0, nil
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    local expires = redis.call('ZSCORE', KEYS[1], id)
    if expires then
      live = live + 1
      expires = tonumber(expires)
      if soonest == nil or expires < soonest then soonest = expires end
    else
      redis.call('SREM', KEYS[4], id)
    end
  end
  if live >= client_cap then return {-1, soonest - now} end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now}
end
local expires = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('HSET', KEYS[2], 'state', ARGV[5], 'log', '', 'seed', ARGV[6], 'config', ARGV[7], 'version', 1,
           'created_ms', now, 'expires_ms', expires, 'client', ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], 'live', 'PX', tonumber(ARGV[2]) + tonumber(ARGV[4]))
if client_cap > 0 then
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
end
return {1, expires}
"""

# KEYS: session, known. -> {1, state, version, seed, config, expires_ms, log} or {0, known or false}
_READ = """
local v = redis.call('HMGET', KEYS[1], 'state', 'version', 'seed', 'config', 'expires_ms', 'log')
if v[1] then return {1, v[1], v[2], v[3], v[4], v[5], v[6] or ''} end
return {0, redis.call('GET', KEYS[2])}
"""

# KEYS: session, known. ARGV: the version a warm engine holds -> {2, version, expires_ms} when it is
# still the session's (the state is not sent: the engine has it), else as _READ
_PEEK = """
local v = redis.call('HMGET', KEYS[1], 'version', 'expires_ms')
if v[1] then
  if v[1] == ARGV[1] then return {2, v[1], v[2]} end
  local s = redis.call('HMGET', KEYS[1], 'state', 'version', 'seed', 'config', 'expires_ms', 'log')
  return {1, s[1], s[2], s[3], s[4], s[5], s[6] or ''}
end
return {0, redis.call('GET', KEYS[2])}
"""

# KEYS: session, index, known. ARGV: version, state, seed, config, ttl_ms, tombstone_ms, id,
# client key prefix, action, renew_ms (seed and config "" when unchanged, as after a step; state ""
# and the action's byte to append it to the log, else action "" and the new state, which empties
# the log) -> {1, expires_ms} committed, {0} version moved on, {-1} gone. The expiry moves only by
# renew_ms or more (module doc); the set of the session's client lives as long.
_COMMIT = _NOW_MS + """
local held = redis.call('HMGET', KEYS[1], 'version', 'client', 'expires_ms', 'log')
local v = held[1]
if not v then return {-1} end
if v ~= ARGV[1] then return {0} end
local expires, held_expires = now + tonumber(ARGV[5]), tonumber(held[3]) or 0
local renew = expires - held_expires >= tonumber(ARGV[10])
if not renew then expires = held_expires end
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'log', (held[4] or '') .. ARGV[9], 'version', tonumber(v) + 1, 'expires_ms', expires)
else
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'log', '', 'version', tonumber(v) + 1, 'expires_ms', expires)
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'seed', ARGV[3], 'config', ARGV[4]) end
if renew then
  if held[2] and held[2] ~= '' then redis.call('PEXPIRE', ARGV[8] .. held[2], ARGV[5]) end
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('ZADD', KEYS[2], expires, ARGV[7])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[5]) + tonumber(ARGV[6]))
end
return {1, expires}
"""

# KEYS: session, index, known. ARGV: id, tombstone_ms -> 1 closed, 0 not live
_CLOSE = """
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if existed == 1 then redis.call('SET', KEYS[3], 'closed', 'PX', ARGV[2]) end
return existed
"""


class SessionStore:
    """Play sessions in Redis (see the module doc). One per process is enough; thread-safe, and
    usable from several event loops (each gets its own connections)."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "prospector:play",
        ttl_s: float = 1800.0,
        max_sessions: int = 1000,
        tombstone_s: float = 86400.0,
        timeout_s: float = 0.5,
        max_sessions_per_client: int = 0,
    ) -> None:
        self.prefix = prefix
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.renew_ms = min(RENEW_MAX_MS, self.ttl_ms // 10)
        self.max_sessions = int(max_sessions)
        self.max_sessions_per_client = int(max_sessions_per_client)  # 0: no cap per client
        self.tombstone_ms = max(1, int(tombstone_s * 1000))
        self.redis_url, self.timeout_s = redis_url, timeout_s
        self.redis = connect_redis(redis_url, timeout_s=timeout_s)  # sync: ping, active_count
        self._pipes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Caller] = weakref.WeakKeyDictionary()
        self._scripts = {script: _sha1(script) for script in (_CREATE, _READ, _PEEK, _COMMIT, _CLOSE)}
        self._cache: OrderedDict[str, _Warm] = OrderedDict()
        self._lock = threading.Lock()  # guards the cache and the client map; never held across an await
        self._local = threading.local()  # .pipe: (loop, its caller) last used on this thread (see _pipe)
        # told of every step this process commits on a session it follows (the pretrained model's
        # travel memories, prospector_api.pretrained); None: nobody listens
        self.step_listener: StepListener | None = None

    @classmethod
    def from_settings(cls, settings: Any, api_settings: Any) -> SessionStore:
        return cls(
            settings.redis_url,
            prefix=api_settings.session_prefix,
            ttl_s=api_settings.session_ttl_s,
            max_sessions=api_settings.max_sessions,
            tombstone_s=api_settings.tombstone_s,
            timeout_s=api_settings.redis_timeout_s,
            max_sessions_per_client=api_settings.max_sessions_per_client,
        )

    def close(self) -> None:
        """Close the synchronous client (the asynchronous ones: `aclose` on their loops)."""
        self.redis.close()

    async def aclose(self) -> None:
        """Close this event loop's connection."""
        self._local.pipe = None
        with self._lock:
            pipe = self._pipes.pop(asyncio.get_running_loop(), None)
        if pipe is not None:
            await pipe.aclose()

    # ---- keys ------------------------------------------------------------------------

    @property
    def index_key(self) -> str:
        return f"{self.prefix}:sessions"

    def session_key(self, session_id: str) -> str:
        return f"{self.prefix}:s:{session_id}"

    def known_key(self, session_id: str) -> str:
        return f"{self.prefix}:known:{session_id}"

    @property
    def client_key_prefix(self) -> str:
        return f"{self.prefix}:client:"

    # ---- Redis from the running event loop ------------------------------------------------

    def _pipe(self) -> Caller:
        # The caller of the loop running this code. The thread's last (loop, caller) answers while
        # that loop runs (a thread runs one loop at a time, so a running loop seen from this thread
        # is the current one): on Python 3.11 asking asyncio for the running loop is a getpid
        # system call, and a weak-keyed lookup besides, on every play step.
        held = getattr(self._local, "pipe", None)
        if held is not None and held[0].is_running():
            return held[1]
        loop = asyncio.get_running_loop()
        pipe = self._pipes.get(loop)
        if pipe is None:
            with self._lock:
                # like connect_redis, it gives up fast: a dead Redis costs a call about
                # timeout_s, and the caller a 503, not seconds of retries
                pipe = self._pipes.setdefault(loop, connect_pipe(self.redis_url, timeout_s=self.timeout_s))
        self._local.pipe = (loop, pipe)
        return pipe

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA, loading the script first if this Redis does not know it (a restarted Redis)."""
        pipe, sha = self._pipe(), self._scripts[script]
        with _redis_errors():
            try:
                return await pipe.call("EVALSHA", sha, len(keys), *keys, *args)
            except NoScriptError:
                await pipe.call("SCRIPT", "LOAD", script)
                return await pipe.call("EVALSHA", sha, len(keys), *keys, *args)

    # ---- warm engines: checked out for the length of one call ----------------------------

    def _checkout(self, session_id: str) -> _Warm | None:
        with self._lock:
            return self._cache.pop(session_id, None)

    def _checkin(self, session_id: str, warm: _Warm) -> None:
        with self._lock:
            held = self._cache.get(session_id)
            if held is None or held.version <= warm.version:  # keep the newer of two racing calls
                self._cache[session_id] = warm
            self._cache.move_to_end(session_id)
            while len(self._cache) > CACHE_SESSIONS:
                self._cache.popitem(last=False)

    def _forget(self, session_id: str) -> None:
        with self._lock:
            self._cache.pop(session_id, None)

    # ---- calls -----------------------------------------------------------------------

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers."""
        with _redis_errors():
            self.redis.ping()

    async def aping(self) -> None:
        """Raise StoreUnavailable unless Redis answers, on the connection the play calls use."""
        with _redis_errors():
            await self._pipe().call("PING")

    def active_count(self) -> int:
        """Live sessions across every replica."""
        with _redis_errors():
            return int(self.redis.zcount(self.index_key, f"({int(time.time() * 1000)}", "+inf"))

    async def create(
        self,
        seed: int | None = None,
        config: EnvConfig | dict | None = None,
        options: ViewOptions = ViewOptions(),
        client: str = "",
    ) -> SessionView:
        """A new session on `seed` (random when None) for `client` (its address, limits.client_key);
        SessionCapReached when the cap, or the client's own cap, is reached."""
        cfg = as_config(config)
        seed = secrets.randbits(RANDOM_SEED_BITS) if seed is None else check_seed(seed)
        engine = Engine(cfg, seed)
        session_id = secrets.token_hex(16)
        client_cap = self.max_sessions_per_client if client else 0
        created, ms = await self._run(
            _CREATE, [self.index_key, self.session_key(session_id), self.known_key(session_id),
                      self.client_key_prefix + client],
            [session_id, self.ttl_ms, self.max_sessions, self.tombstone_ms, engine.save(), seed,
             json.dumps(cfg.to_dict()), client_cap, client])
        if created != 1:
            wait_s = max(1.0, int(ms) / 1000.0)
            if created == -1:
                raise SessionCapReached(
                    f"{client} has {client_cap} live sessions, the most one client may have; close one or "
                    f"retry after {wait_s:.0f} s, when the first of them expires if idle", wait_s)
            raise SessionCapReached(
                f"the session cap is reached ({self.max_sessions} live sessions); close one or retry after "
                f"{wait_s:.0f} s, when the first idle one expires (idle sessions expire after "
                f"{self.ttl_ms / 1000:g} s)", wait_s)
        out = self._view(engine, session_id, int(ms), options)
        self._checkin(session_id, _Warm(engine, 1, 0))
        return out

    async def get(self, session_id: str, options: ViewOptions = ViewOptions()) -> SessionView:
        """The session as it stands (does not renew its TTL)."""
        session_id = validate_session_id(session_id)
        warm, expires_ms = await self._load(session_id, self._checkout(session_id))
        try:
            return self._view(warm.engine, session_id, expires_ms, options)
        finally:
            self._checkin(session_id, warm)

    async def observe(self, session_id: str) -> tuple[Any, Any, int]:
        """(observation [260] float32, action mask [69], version) of the session as it stands (copies;
        the TTL is not renewed): what a policy reads. The version counts the session's commits, so
        a follower of its steps (StepListener) can tell whether it saw every one."""
        session_id = validate_session_id(session_id)
        warm, _ = await self._load(session_id, self._checkout(session_id))
        try:
            return warm.engine.observation().copy(), warm.engine.action_mask().copy(), warm.version
        finally:
            self._checkin(session_id, warm)

    async def step(self, session_id: str, action: object, options: ViewOptions = ViewOptions()) -> SessionView:
        """Take one action (0..68) and return the transition."""
        action = check_action(action)
        session_id = validate_session_id(session_id)
        listener = self.step_listener
        follow = listener is not None and listener.follows(session_id)
        before: Any = None

        def apply(engine: Engine) -> tuple[float, bool, bool]:
            nonlocal before
            if follow:
                before = engine.observation().copy()
            return engine.step(action)

        def view(engine: Engine, expires_ms: int, result: tuple[float, bool, bool], version: int) -> SessionView:
            out = self._view(engine, session_id, expires_ms, options)
            out.action, out.reward = action, float(result[0])
            out.terminated, out.truncated = result[1], result[2]
            if follow:
                listener.stepped(session_id, version, before, action, engine.observation())
            return out

        return await self._mutate(session_id, apply, view, logged_action=action)

    async def reset(
        self,
        session_id: str,
        seed: int | None = None,
        config: EnvConfig | dict | None = None,
        options: ViewOptions = ViewOptions(),
    ) -> SessionView:
        """A new episode in the session: on `seed`, or the engine's next seed; config kept unless given."""
        session_id = validate_session_id(session_id)
        if seed is not None:
            check_seed(seed)
        new_config = None if config is None else as_config(config)

        def apply(engine: Engine) -> None:
            engine.reset(engine.next_seed if seed is None else seed, new_config)

        return await self._mutate(session_id, apply,
                                  lambda engine, expires_ms, _result, _version:
                                  self._view(engine, session_id, expires_ms, options),
                                  logged_action=None)

    async def close_session(self, session_id: str) -> None:
        """End a session and free its slot; SessionNotFound / SessionExpired if it is not live."""
        session_id = validate_session_id(session_id)
        closed = await self._run(_CLOSE, [self.session_key(session_id), self.index_key, self.known_key(session_id)],
                                 [session_id, self.tombstone_ms])
        self._forget(session_id)
        if not closed:
            raise await self._gone(session_id)

    # ---- internals ---------------------------------------------------------------------

    async def _load(self, session_id: str, warm: _Warm | None) -> tuple[_Warm, int]:
        """Redis's state of the session in `warm`'s engine (restored and its log replayed only if it
        holds another version; when it holds the current one, Redis sends only the version)."""
        keys = [self.session_key(session_id), self.known_key(session_id)]
        reply = await (self._run(_READ, keys, []) if warm is None else self._run(_PEEK, keys, [warm.version]))
        if reply[0] == 2 and warm is not None and int(reply[1]) == warm.version:
            return warm, int(reply[2])
        if reply[0] != 1:
            raise self._gone_from(session_id, reply[1])
        _, state, version, _seed, _config, expires_ms, log = reply
        version = int(version)
        if warm is None or warm.version != version:
            engine = warm.engine if warm is not None else Engine()
            try:
                engine.restore(state)
                check_log(log)
            except ValueError as exc:  # e.g. saved by an engine of another spec version
                raise SessionExpired(f"session {session_id} cannot be resumed: {exc}") from None
            for action in log:  # bytes: each an action the session stepped after the saved state
                engine.step(action)
            warm = _Warm(engine, version, len(log))
        return warm, int(expires_ms)

    async def _gone(self, session_id: str) -> PlayError:
        with _redis_errors():
            known = await self._pipe().call("GET", self.known_key(session_id))
        return self._gone_from(session_id, known)

    def _gone_from(self, session_id: str, known: bytes | None) -> PlayError:
        if known == b"live":
            return SessionExpired(
                f"session {session_id} expired (idle for more than {self.ttl_ms / 1000:g} s); create a new one"
            )
        if known == b"closed":
            return SessionNotFound(f"session {session_id} was closed")
        return SessionNotFound(f"session {session_id} does not exist")

    async def _mutate(self, session_id: str, apply: Any, view: Any, *, logged_action: int | None) -> SessionView:
        """apply(engine) to the session and commit it. `logged_action`: apply is that one step (seed and
        config unchanged; the commit appends it to the log while the log is short), None: a reset,
        committed as the new saved state. The reply is view(engine, expires_ms, apply's result, the
        session's new version)."""
        warm = self._checkout(session_id)
        keys = [self.session_key(session_id), self.index_key, self.known_key(session_id)]
        for _ in range(COMMIT_ATTEMPTS):
            if warm is None:
                warm, _ = await self._load(session_id, None)
            engine = warm.engine
            result = apply(engine)
            seed, config = ("", "") if logged_action is not None else (engine.seed, json.dumps(engine.config.to_dict()))
            if logged_action is not None and warm.logged < LOG_LIMIT:
                state, logged = b"", bytes((logged_action,))
            else:
                state, logged = engine.save(), b""
            reply = await self._run(_COMMIT, keys, [warm.version, state, seed, config, self.ttl_ms,
                                                    self.tombstone_ms, session_id, self.client_key_prefix, logged,
                                                    self.renew_ms])
            if reply[0] == 1:
                warm.version += 1
                warm.logged = warm.logged + 1 if logged else 0
                out = view(engine, int(reply[1]), result, warm.version)  # before check-in: then the engine is anyone's
                self._checkin(session_id, warm)
                return out
            if reply[0] == -1:  # expired or closed (here or elsewhere)
                self._forget(session_id)
                raise await self._gone(session_id)
            warm = None  # another writer won this round: read its state and go again
            await asyncio.sleep(RETRY_PAUSE_S)
        raise SessionBusy(f"session {session_id} is being stepped by too many callers at once; try again")

    @staticmethod
    def _view(engine: Engine, session_id: str, expires_ms: int, options: ViewOptions) -> SessionView:
        done = engine.done
        return SessionView(
            session_id=session_id,
            seed=engine.seed,
            config=engine.config_dict(),
            expires_at=expires_ms / 1000.0,
            t=engine.t,
            action_mask=engine.action_mask().view(np.bool_).tolist(),
            # both written in C: building the render state's Python objects and serializing them
            # cost a step several times what the rest of the step costs (README, bench api)
            state_json=engine.render_json() if options.include_state else None,
            info_json=b'{"events":%b,"episode":%b}' % (engine.events_json(),
                                                     orjson.dumps(engine.metrics()) if done else b"null"),
            observation=[float(x) for x in engine.observation()] if options.include_observation else None,
            terminated=engine.terminated,
            truncated=engine.truncated,
        )


class StepListener(Protocol):
    """Told of the steps this process commits on the sessions it follows (SessionStore.step_listener)."""

    def follows(self, session_id: str) -> bool:
        """Whether stepped() wants this session's steps (asked before each step: keep it cheap)."""

    def stepped(self, session_id: str, version: int, before: np.ndarray, action: int, after: np.ndarray) -> None:
        """The session moved from observation `before` by `action` to `after`, now at `version`."""


class _Warm:
    """A session's engine kept in this process, the version of Redis's session it holds, and how many
    actions Redis's log holds after its saved state at that version."""

    __slots__ = ("engine", "version", "logged")

    def __init__(self, engine: Engine, version: int, logged: int) -> None:
        self.engine, self.version, self.logged = engine, version, logged


def _sha1(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


class _redis_errors:
    """Redis trouble as StoreUnavailable, with the reason."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, _tb: object) -> bool:
        if exc is not None and isinstance(exc, (redis.RedisError, OSError)):
            raise StoreUnavailable(f"the session store (Redis) is unavailable: {type(exc).__name__}: {exc}") from exc
        return False
