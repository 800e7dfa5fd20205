"""Play sessions, held in Redis as the engine's saved state, so any replica serves any session.

One session is three Redis keys under the prefix (default prospector:play):

    {prefix}:s:{id}        hash: state (Engine.save(), 13,864 bytes), version,
                           seed, config (JSON), created_ms, expires_ms;
                           PEXPIRE = the idle TTL, renewed by every step or reset
    {prefix}:known:{id}    "live" or "closed", kept `tombstone_s` longer, so a
                           late request can tell "expired" from "never existed"
    {prefix}:sessions      sorted set id -> expiry (ms): the cap counts its
                           members whose expiry is still ahead

A step restores the state into an engine, steps, saves, and writes it back
with a compare-and-set on `version` (one EVALSHA). Two concurrent steps on
one session both start from version v; one commits v+1, the other finds v+1,
reads the new state and starts again. So every action is applied exactly
once, in some order, and a session is never corrupted; a replica that dies
mid-step loses only that step's write.

Each process keeps the engines of recently used sessions warm (an LRU of
CACHE_SESSIONS, each with the version it holds and a lock), so the common
step is one round trip: step the warm engine, compare-and-set against the
version it holds. When another replica moved the session on, the
compare-and-set fails and the step starts again from Redis's state; Redis
stays the only truth, the cache only saves the read and the restore.
Creation is one script too: drop expired members, check the cap, add.
Time is Redis's own (TIME), so replicas with skewed clocks agree on expiry.

Both transports (HTTP and gRPC) use this class; their errors map from the
exceptions below.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import redis
from prospector import spec
from prospector.engine import Engine
from prospector.spec import EnvConfig, as_config
from prospector_common.ids import InvalidId
from prospector_common.outbox import connect_redis

SESSION_ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")
SESSION_ID_PATTERN = "^[0-9a-f]{32}$"  # the same, for OpenAPI
MAX_SEED = 2**64 - 1
RANDOM_SEED_BITS = 53  # random seeds stay exact in JavaScript numbers
COMMIT_ATTEMPTS = 50  # compare-and-set retries before giving up (SessionBusy)
CACHE_SESSIONS = 1024  # engines kept warm per process (about 30 kB each)

# ---- errors (each transport maps them to its status codes) ---------------------------


class PlayError(Exception):
    """Base of the session store's errors; str() is the message for the client."""


class SessionNotFound(PlayError):
    """No such session: never created, or closed."""


class SessionExpired(PlayError):
    """The session existed but expired (idle longer than the TTL) or its state is unreadable."""


class SessionCapReached(PlayError):
    """As many sessions as allowed are live."""


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
        raise ValueError(f"seed must be an integer in 0..2**64-1, got {value!r}")
    return value


# ---- what a call returns ------------------------------------------------------------------


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
    state: dict[str, Any] | None
    observation: list[float] | None
    action: int = -1
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] | None = None

    def session_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "seed": self.seed,
            "config": self.config,
            "expires_at": self.expires_at,
            "t": self.t,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "state": self.state,
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
            "state": self.state,
            "info": self.info,
            "action_mask": self.action_mask,
            "observation": self.observation,
        }


# ---- Lua: each is one atomic round trip ------------------------------------------------

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: index, session, known. ARGV: id, ttl_ms, cap, tombstone_ms, state, seed, config
_CREATE = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return {0, now} end
local expires = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('HSET', KEYS[2], 'state', ARGV[5], 'seed', ARGV[6], 'config', ARGV[7], 'version', 1,
           'created_ms', now, 'expires_ms', expires)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], 'live', 'PX', tonumber(ARGV[2]) + tonumber(ARGV[4]))
return {1, expires}
"""

# KEYS: session, known. -> {1, state, version, seed, config, expires_ms} or {0, known or false}
_READ = """
local v = redis.call('HMGET', KEYS[1], 'state', 'version', 'seed', 'config', 'expires_ms')
if v[1] then return {1, v[1], v[2], v[3], v[4], v[5]} end
return {0, redis.call('GET', KEYS[2])}
"""

# KEYS: session, index, known. ARGV: version, state, seed, config, ttl_ms, tombstone_ms, id
# -> {1, expires_ms} committed, {0} version moved on, {-1} gone
_COMMIT = _NOW_MS + """
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return {-1} end
if v ~= ARGV[1] then return {0} end
local expires = now + tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'seed', ARGV[3], 'config', ARGV[4],
           'version', tonumber(v) + 1, 'expires_ms', expires)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], expires, ARGV[7])
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[5]) + tonumber(ARGV[6]))
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
    """Play sessions in Redis (see the module doc). Thread-safe; one per process is enough."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "prospector:play",
        ttl_s: float = 1800.0,
        max_sessions: int = 1000,
        tombstone_s: float = 86400.0,
        timeout_s: float = 0.5,
    ) -> None:
        self.prefix = prefix
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.max_sessions = int(max_sessions)
        self.tombstone_ms = max(1, int(tombstone_s * 1000))
        self.redis = connect_redis(redis_url, timeout_s=timeout_s)
        self._create = self.redis.register_script(_CREATE)
        self._read = self.redis.register_script(_READ)
        self._commit = self.redis.register_script(_COMMIT)
        self._close = self.redis.register_script(_CLOSE)
        self._cache: OrderedDict[str, _Warm] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, api_settings: Any) -> SessionStore:
        return cls(
            settings.redis_url,
            prefix=api_settings.session_prefix,
            ttl_s=api_settings.session_ttl_s,
            max_sessions=api_settings.max_sessions,
            tombstone_s=api_settings.tombstone_s,
            timeout_s=api_settings.redis_timeout_s,
        )

    def close(self) -> None:
        self.redis.close()

    # ---- keys ------------------------------------------------------------------------

    @property
    def index_key(self) -> str:
        return f"{self.prefix}:sessions"

    def session_key(self, session_id: str) -> str:
        return f"{self.prefix}:s:{session_id}"

    def known_key(self, session_id: str) -> str:
        return f"{self.prefix}:known:{session_id}"

    # ---- warm engines ------------------------------------------------------------------

    def _warm(self, session_id: str) -> _Warm:
        with self._cache_lock:
            warm = self._cache.get(session_id)
            if warm is None:
                warm = self._cache[session_id] = _Warm()
                while len(self._cache) > CACHE_SESSIONS:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(session_id)
            return warm

    def _forget(self, session_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(session_id, None)

    # ---- calls -----------------------------------------------------------------------

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers."""
        with _redis_errors():
            self.redis.ping()

    def active_count(self) -> int:
        """Live sessions across every replica."""
        with _redis_errors():
            return int(self.redis.zcount(self.index_key, f"({int(time.time() * 1000)}", "+inf"))

    def create(
        self,
        seed: int | None = None,
        config: EnvConfig | dict | None = None,
        options: ViewOptions = ViewOptions(),
    ) -> SessionView:
        """A new session on `seed` (random when None); SessionCapReached when full."""
        cfg = as_config(config)
        seed = secrets.randbits(RANDOM_SEED_BITS) if seed is None else check_seed(seed)
        engine = Engine(cfg, seed)
        session_id = secrets.token_hex(16)
        with _redis_errors():
            created, expires_ms = self._create(
                keys=[self.index_key, self.session_key(session_id), self.known_key(session_id)],
                args=[session_id, self.ttl_ms, self.max_sessions, self.tombstone_ms, engine.save(),
                      seed, json.dumps(cfg.to_dict())],
            )
        if created:
            warm = self._warm(session_id)
            with warm.lock:
                warm.engine, warm.version = engine, b"1"
        else:
            raise SessionCapReached(
                f"the session cap is reached ({self.max_sessions} live sessions); close one or wait "
                f"for idle sessions to expire (after {self.ttl_ms / 1000:g} s)"
            )
        return self._view(engine, session_id, int(expires_ms), options)

    def get(self, session_id: str, options: ViewOptions = ViewOptions()) -> SessionView:
        """The session as it stands (does not renew its TTL)."""
        session_id = validate_session_id(session_id)
        warm = self._warm(session_id)
        with warm.lock:
            state, version, expires_ms = self._load(session_id)
            self._restore(session_id, warm, state, version)
            return self._view(warm.engine, session_id, expires_ms, options)

    def step(self, session_id: str, action: object, options: ViewOptions = ViewOptions()) -> SessionView:
        """Take one action (0..68) and return the transition."""
        action = check_action(action)
        session_id = validate_session_id(session_id)

        def apply(engine: Engine) -> tuple[float, bool, bool]:
            return engine.step(action)

        def view(engine: Engine, expires_ms: int, result: tuple[float, bool, bool]) -> SessionView:
            out = self._view(engine, session_id, expires_ms, options)
            out.action, out.reward = action, float(result[0])
            out.terminated, out.truncated = result[1], result[2]
            return out

        return self._mutate(session_id, apply, view)

    def reset(
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

        return self._mutate(session_id, apply,
                            lambda engine, expires_ms, _: self._view(engine, session_id, expires_ms, options))

    def close_session(self, session_id: str) -> None:
        """End a session and free its slot; SessionNotFound / SessionExpired if it is not live."""
        session_id = validate_session_id(session_id)
        with _redis_errors():
            closed = self._close(
                keys=[self.session_key(session_id), self.index_key, self.known_key(session_id)],
                args=[session_id, self.tombstone_ms],
            )
            self._forget(session_id)
            if closed:
                return
            known = self.redis.get(self.known_key(session_id))
        raise self._gone(session_id, known)

    # ---- internals ---------------------------------------------------------------------

    def _load(self, session_id: str) -> tuple[bytes, bytes, int]:
        with _redis_errors():
            reply = self._read(keys=[self.session_key(session_id), self.known_key(session_id)])
        if reply[0] != 1:
            raise self._gone(session_id, reply[1])
        _, state, version, _seed, _config, expires_ms = reply
        return state, version, int(expires_ms)

    def _gone(self, session_id: str, known: bytes | None) -> PlayError:
        if known == b"live":
            return SessionExpired(
                f"session {session_id} expired (idle for more than {self.ttl_ms / 1000:g} s); create a new one"
            )
        if known == b"closed":
            return SessionNotFound(f"session {session_id} was closed")
        return SessionNotFound(f"session {session_id} does not exist")

    def _restore(self, session_id: str, warm: _Warm, state: bytes, version: bytes) -> None:
        if warm.engine is None:
            warm.engine = Engine()
        warm.version = None
        try:
            warm.engine.restore(state)
        except ValueError as exc:  # e.g. saved by an engine of another spec version
            raise SessionExpired(f"session {session_id} cannot be resumed: {exc}") from None
        warm.version = version

    def _mutate(self, session_id: str, apply: Any, view: Any) -> SessionView:
        warm = self._warm(session_id)
        with warm.lock:
            for _ in range(COMMIT_ATTEMPTS):
                if warm.version is None:
                    state, version, _ = self._load(session_id)
                    self._restore(session_id, warm, state, version)
                expected, warm.version = warm.version, None  # the engine moves on from here
                result = apply(warm.engine)
                with _redis_errors():
                    reply = self._commit(
                        keys=[self.session_key(session_id), self.index_key, self.known_key(session_id)],
                        args=[expected, warm.engine.save(), warm.engine.seed,
                              json.dumps(warm.engine.config.to_dict()), self.ttl_ms, self.tombstone_ms, session_id],
                    )
                if reply[0] == 1:
                    warm.version = str(int(expected) + 1).encode()
                    return view(warm.engine, int(reply[1]), result)
                if reply[0] == -1:  # expired or closed (here or elsewhere)
                    self._forget(session_id)
                    with _redis_errors():
                        known = self.redis.get(self.known_key(session_id))
                    raise self._gone(session_id, known)
                time.sleep(0.0005)  # another writer won this round: read its state and go again
        raise SessionBusy(f"session {session_id} is being stepped by too many callers at once; try again")

    @staticmethod
    def _view(engine: Engine, session_id: str, expires_ms: int, options: ViewOptions) -> SessionView:
        done = engine.done
        return SessionView(
            session_id=session_id,
            seed=engine.seed,
            config=engine.config.to_dict(),
            expires_at=expires_ms / 1000.0,
            t=engine.t,
            action_mask=[bool(m) for m in engine.action_mask()],
            state=engine.render_state() if options.include_state else None,
            observation=[float(x) for x in engine.observation()] if options.include_observation else None,
            terminated=engine.terminated,
            truncated=engine.truncated,
            info={"events": engine.events(), "episode": engine.metrics() if done else None},
        )


class _Warm:
    """A session's engine kept in this process, the version of Redis's state it holds (None: unknown)."""

    __slots__ = ("lock", "engine", "version")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.engine: Engine | None = None
        self.version: bytes | None = None


class _redis_errors:
    """Redis trouble as StoreUnavailable, with the reason."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, _tb: object) -> bool:
        if exc is not None and isinstance(exc, (redis.RedisError, OSError)):
            raise StoreUnavailable(f"the session store (Redis) is unavailable: {type(exc).__name__}: {exc}") from exc
        return False
