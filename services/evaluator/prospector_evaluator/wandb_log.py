"""Replays as W&B artifacts: `replay-{run_id}-{window_id}-{replay_id}`, type "replay".

Offline unless WANDB_API_KEY is set (Settings.wandb_mode). W&B is never
required: an import or init failure is logged once and the evaluator goes on
without it; a failed upload is logged and skipped.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from prospector_common.catalog import ReplayRecord

log = logging.getLogger(__name__)


def artifact_name(record: ReplayRecord) -> str:
    return f"replay-{record.run_id}-{record.window_id}-{record.replay_id}"


class WandbReplayLogger:
    """One W&B run per evaluator process (job_type "evaluator"), started on first use."""

    def __init__(self, mode: str | None, project: str, data_dir: Path, name: str):
        self.mode = mode or "offline"
        self.project = project
        self.data_dir = Path(data_dir)
        self.name = name
        self._run: Any = None
        self._failed = self.mode == "disabled"
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return not self._failed

    def _ensure_run(self) -> Any:
        if self._run is None and not self._failed:
            try:
                import wandb

                directory = self.data_dir / "wandb-evaluator"
                directory.mkdir(parents=True, exist_ok=True)
                self._run = wandb.init(project=self.project, mode=self.mode, job_type="evaluator",
                                       name=self.name, dir=str(directory), reinit=True)
            except Exception as exc:  # noqa: BLE001 - W&B must never stop the evaluator
                log.warning("W&B unavailable, replays are not logged as artifacts: %s: %s",
                            type(exc).__name__, exc)
                self._failed = True
        return self._run

    def __call__(self, record: ReplayRecord, path: Path) -> None:
        with self._lock:
            run = self._ensure_run()
            if run is None:
                return
            try:
                import wandb

                artifact = wandb.Artifact(artifact_name(record), type="replay", metadata={
                    "run_id": record.run_id, "window_id": record.window_id, "replay_id": record.replay_id,
                    "seed": record.seed, "return": record.return_, "net_profit": record.net_profit,
                    "survival": record.survival, "length": record.length, "tags": record.tags})
                artifact.add_file(str(path))
                run.log_artifact(artifact)
            except Exception as exc:  # noqa: BLE001
                log.warning("W&B artifact %s not logged: %s: %s", artifact_name(record), type(exc).__name__, exc)

    def close(self) -> None:
        with self._lock:
            if self._run is not None:
                try:
                    self._run.finish()
                except Exception as exc:  # noqa: BLE001
                    log.warning("W&B finish failed: %s", exc)
                self._run = None
