"""Run storage, local stand-ins until the shared package's RunPaths / atomic writes replace them.

    {data_dir}/{run_id}/run.json
    {data_dir}/{run_id}/checkpoints/ckpt_{window_id}.pt
    {data_dir}/{run_id}/metrics/windows.jsonl
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CKPT_RE = re.compile(r"^ckpt_(\d+)\.pt$")


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id) or ".." in run_id:
        raise ValueError(f"invalid run id {run_id!r}: letters, digits, '_', '-', '.' (1-100 chars)")
    return run_id


def new_run_id() -> str:
    """Timestamp plus short git sha: 20250101-120000-abc1234."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{stamp}-{sha or 'nogit'}"


@dataclass(frozen=True)
class RunPaths:
    data_dir: Path
    run_id: str

    @property
    def root(self) -> Path:
        return self.data_dir / self.run_id

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics" / "windows.jsonl"

    def checkpoint(self, window_id: int) -> Path:
        return self.checkpoints / f"ckpt_{window_id}.pt"

    def make_dirs(self) -> None:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.metrics.parent.mkdir(parents=True, exist_ok=True)

    def checkpoint_ids(self) -> list[int]:
        if not self.checkpoints.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.checkpoints.iterdir() if (m := CKPT_RE.match(p.name)))


def atomic_write(path: Path, write) -> None:
    """Calls write(file) on a temporary file next to path, fsyncs it, renames it to path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path: Path, obj) -> None:
    data = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))


def append_jsonl(path: Path, row: dict) -> None:
    """One line, written with a single write() and fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write((json.dumps(row, sort_keys=False) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows
