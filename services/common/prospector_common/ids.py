"""Run, window and replay IDs: how they are made and how outside input is checked.

Every ID that arrives from outside (a URL, a stream entry, a command line) goes
through a `validate_*` function before it touches a path or a query. The
patterns are strict and anchored, so an accepted ID can never name a parent
directory, an absolute path or an encoded separator.

Formats:
    run_id     YYYYMMDD-HHMMSS-<git sha, 7 hex | nogit>-<4 hex>   20250101-120000-1a2b3c4-9f0e
    window_id  0, 1, 2, ... up to MAX_WINDOW_ID (an int; as text, no leading zeros)
    replay_id  w<window, 6 digits>-s<seed>-<8 hex>                w000003-s912-5be0c1d2
"""

from __future__ import annotations

import hashlib
import re
import secrets
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

MAX_ID_LENGTH = 64
MAX_WINDOW_ID = 999_999
MAX_SEED = 2**64 - 1  # the engine's seed range

RUN_ID_RE = re.compile(r"\A(?P<date>\d{8})-(?P<time>\d{6})-(?P<sha>[0-9a-f]{7}|nogit)-[0-9a-f]{4}\Z")
# The window is zero-padded so replay ids sort by window (the catalog's cursor relies on it).
REPLAY_ID_RE = re.compile(r"\Aw(?P<window>\d{6})-s(?P<seed>0|[1-9]\d{0,19})-[0-9a-f]{8}\Z")
WINDOW_ID_RE = re.compile(r"\A(?:0|[1-9]\d{0,5})\Z")
GIT_SHA_RE = re.compile(r"\A[0-9a-f]{7}\Z")

# Checked first so the error names the trick rather than just "bad format".
_PATH_TRICKS = ("\x00", "/", "\\", "..", "%")


class InvalidId(ValueError):
    """An ID that does not match its strict pattern; the message says why."""


def _shown(value: str) -> str:
    # Never echo a huge or binary input back in full.
    return repr(value if len(value) <= 80 else value[:80] + "...")


def _check_text(kind: str, value: object, pattern: re.Pattern[str], shape: str) -> re.Match[str]:
    if not isinstance(value, str):
        raise InvalidId(f"{kind} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidId(f"{kind} is empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidId(f"{kind} is too long ({len(value)} characters, at most {MAX_ID_LENGTH})")
    for trick in _PATH_TRICKS:
        if trick in value:
            raise InvalidId(f"{kind} {_shown(value)} contains {trick!r}, which is never part of an ID")
    match = pattern.match(value)
    if match is None:
        raise InvalidId(f"{kind} {_shown(value)} does not match {shape}")
    return match


# ---- run ids ------------------------------------------------------------------


def validate_run_id(value: object) -> str:
    """Return `value` if it is a well-formed run_id, else raise InvalidId."""
    match = _check_text("run_id", value, RUN_ID_RE, "YYYYMMDD-HHMMSS-<7 hex sha or nogit>-<4 hex>")
    try:
        datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
    except ValueError:
        raise InvalidId(f"run_id {_shown(match.string)} does not start with a real date and time") from None
    return match.string


@lru_cache(maxsize=1)
def short_git_sha() -> str:
    """The 7-hex sha of the code's git checkout, PROSPECTOR_GIT_SHA, or "nogit"."""
    from .settings import get_settings  # late: settings are read when first needed

    configured = get_settings().git_sha
    if configured:
        sha = configured.strip().lower()[:7]
        return sha if GIT_SHA_RE.match(sha) else "nogit"
    try:
        out = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()[:7]
    except (OSError, subprocess.SubprocessError):
        return "nogit"
    return out if GIT_SHA_RE.match(out) else "nogit"


def new_run_id(*, now: datetime | None = None, git_sha: str | None = None) -> str:
    """A fresh run_id: UTC time, short git sha, and 4 random hex against collisions."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    sha = git_sha if git_sha is not None else short_git_sha()
    if sha != "nogit" and not GIT_SHA_RE.match(sha):
        raise InvalidId(f"git sha {_shown(sha)} is not 7 lowercase hex characters or 'nogit'")
    return f"{when:%Y%m%d-%H%M%S}-{sha}-{secrets.token_hex(2)}"


# ---- window ids ----------------------------------------------------------------


def validate_window_id(value: object) -> int:
    """Return the window id as an int, from an int or its decimal text.

    Text must be canonical (no sign, spaces or leading zeros), so one window
    has exactly one spelling in paths, stream entries and URLs.
    """
    if isinstance(value, bool):  # bool is an int subclass; True is not window 1
        raise InvalidId("window_id must be an integer, got bool")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        _check_text("window_id", value, WINDOW_ID_RE, "a non-negative integer without leading zeros")
        number = int(value)
    else:
        raise InvalidId(f"window_id must be an integer, got {type(value).__name__}")
    if not 0 <= number <= MAX_WINDOW_ID:
        raise InvalidId(f"window_id {number} is out of range 0..{MAX_WINDOW_ID}")
    return number


def validate_seed(value: object) -> int:
    """Return the seed as an int if it is in the engine's range 0..2**64-1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidId(f"seed must be an integer, got {type(value).__name__}")
    if not 0 <= value <= MAX_SEED:
        raise InvalidId(f"seed {value} is out of range 0..2**64-1")
    return value


# ---- replay ids ----------------------------------------------------------------


def new_replay_id(window_id: int, seed: int, *, key: str | None = None) -> str:
    """A replay_id for an episode of `window_id` played from `seed`.

    The 8-hex suffix is random, or, with `key`, derived from it: the same key
    (say run_id, window, seed and policy mode) gives the same id, so an
    evaluation retried after a crash lands on the same catalog row and file.
    """
    window_id = validate_window_id(window_id)
    seed = validate_seed(seed)
    suffix = secrets.token_hex(4) if key is None else hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"w{window_id:06d}-s{seed}-{suffix}"


def validate_replay_id(value: object) -> str:
    """Return `value` if it is a well-formed replay_id, else raise InvalidId."""
    match = _check_text("replay_id", value, REPLAY_ID_RE, "w<6-digit window>-s<seed>-<8 hex>")
    validate_seed(int(match["seed"]))  # 20 digits can still exceed 2**64-1
    return match.string


def parse_replay_id(value: object) -> tuple[int, int]:
    """(window_id, seed) encoded in a replay_id; raises InvalidId if malformed."""
    match = REPLAY_ID_RE.match(validate_replay_id(value))
    assert match is not None  # validated just above
    return int(match["window"]), int(match["seed"])
