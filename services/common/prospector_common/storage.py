"""Run files on disk: where each one lives, and writing them so no reader sees half.

Layout under the data dir (PROSPECTOR_DATA_DIR):

    {run_id}/run.json
    {run_id}/checkpoints/ckpt_{window_id}.pt
    {run_id}/metrics/windows.jsonl
    {run_id}/replays/{replay_id}.jsonl.gz
    {run_id}/outbox.sqlite         announcements waiting for Redis (outbox.py)

Whole files (checkpoints, replays, run.json) are written to a hidden temp file
in the same directory, fsynced, and renamed over the target: a reader sees the
old file or the new one, never a mix, and a crash leaves at most a
`.{name}.*.tmp` file that no glob for the real names matches.

The metrics file is append-only JSON Lines. Each row is one `write` of a full
line with a trailing newline, then fsync. A crash mid-write can leave a torn
last line (no newline): `read_jsonl` ignores it, and the next `append_jsonl`
cuts it off before appending, so a torn line never glues onto a good one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .ids import validate_replay_id, validate_run_id, validate_window_id
from .jsonsafe import dumps, json_safe

TEMP_SUFFIX = ".tmp"
CHECKPOINT_RE = re.compile(r"\Ackpt_(0|[1-9]\d*)\.pt\Z")


class UnsafePath(ValueError):
    """A path that would land outside the data dir."""


def inside_data_dir(data_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """`path` resolved (relative paths against data_dir); UnsafePath if it leaves data_dir.

    Resolving follows symlinks and `..`, so neither can smuggle a path out.
    """
    root = Path(data_dir).resolve()
    candidate = (root / path).resolve()  # an absolute `path` replaces root here
    if not candidate.is_relative_to(root):
        raise UnsafePath(f"{path} is outside the data dir {root}")
    return candidate


@dataclass(frozen=True)
class RunPaths:
    """Every path of one run, each checked to stay inside the data dir."""

    data_dir: Path
    run_id: str

    def __init__(self, data_dir: str | os.PathLike[str], run_id: str) -> None:
        object.__setattr__(self, "run_id", validate_run_id(run_id))
        object.__setattr__(self, "data_dir", Path(data_dir).resolve())

    def _path(self, *parts: str) -> Path:
        return inside_data_dir(self.data_dir, Path(self.run_id, *parts))

    @property
    def run_dir(self) -> Path:
        return self._path()

    @property
    def run_json(self) -> Path:
        return self._path("run.json")

    @property
    def outbox_file(self) -> Path:
        """The run's queue of announcements not yet in Redis (outbox.py)."""
        return self._path("outbox.sqlite")

    @property
    def checkpoints_dir(self) -> Path:
        return self._path("checkpoints")

    def checkpoint(self, window_id: int | str) -> Path:
        return self._path("checkpoints", f"ckpt_{validate_window_id(window_id)}.pt")

    @property
    def metrics_dir(self) -> Path:
        return self._path("metrics")

    @property
    def metrics_file(self) -> Path:
        return self._path("metrics", "windows.jsonl")

    @property
    def replays_dir(self) -> Path:
        return self._path("replays")

    def replay(self, replay_id: str) -> Path:
        return self._path("replays", f"{validate_replay_id(replay_id)}.jsonl.gz")

    def make_dirs(self) -> None:
        """Create the run's directories (idempotent)."""
        for directory in (self.checkpoints_dir, self.metrics_dir, self.replays_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def checkpoint_window_ids(self) -> list[int]:
        """Window ids with a complete checkpoint file, ascending (temp files never count)."""
        if not self.checkpoints_dir.is_dir():
            return []
        ids = (CHECKPOINT_RE.match(p.name) for p in self.checkpoints_dir.iterdir())
        return sorted(int(m[1]) for m in ids if m is not None)

    def relative(self, path: str | os.PathLike[str]) -> str:
        """`path` relative to the data dir, as announced to other services.

        Other containers may mount the data dir elsewhere, so a path that
        crosses a process boundary is relative to the data dir.
        """
        return inside_data_dir(self.data_dir, path).relative_to(self.data_dir).as_posix()


# ---- whole-file atomic writes ---------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable, not just the file's bytes.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Write `path` through a file object; it appears only if the block completes.

    For writers that stream into a file (torch.save, gzip): the data goes to a
    temp file beside `path`, which is fsynced and renamed over `path` when the
    block exits normally. On an exception the temp file is removed and `path`
    is untouched.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode 'wb' or 'w', not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide files from other service users
        encoding = "utf-8" if mode == "w" else None
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` atomically (see atomic_open)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace `path` with UTF-8 `text` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Replace `path` with indented, strict JSON of `value` (NaN becomes null)."""
    text = json.dumps(json_safe(value), indent=2, allow_nan=False) + "\n"
    atomic_write_text(path, text)


def remove_temp_files(directory: str | os.PathLike[str]) -> int:
    """Delete temp files a crashed writer left in `directory`; returns how many.

    Only call when no other process is writing there (e.g. on --resume).
    """
    removed = 0
    root = Path(directory)
    if root.is_dir():
        for p in root.glob(f".*{TEMP_SUFFIX}"):
            with suppress(FileNotFoundError):
                p.unlink()
                removed += 1
    return removed


# ---- append-only JSON Lines ----------------------------------------------------------


def _cut_torn_tail(fd: int) -> None:
    # A previous writer died mid-line: drop the fragment after the last newline.
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            os.ftruncate(fd, start + newline + 1)
            return
        end = start
    os.ftruncate(fd, 0)


def append_jsonl(path: str | os.PathLike[str], row: Any) -> None:
    """Append one JSON row as a full line and fsync it (single writer per file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = (dumps(row) + "\n").encode("utf-8")
    created = not target.exists()
    fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _cut_torn_tail(fd)
        view = memoryview(line)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(target.parent)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All complete rows of a JSON Lines file ([] if it does not exist).

    A last line without its newline is a write in progress or a torn write
    and is skipped; a bad complete line is corruption and raises ValueError.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    lines.pop()  # after the final newline: b"" for a clean file, else a torn fragment
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: corrupt JSON line: {exc}") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows
