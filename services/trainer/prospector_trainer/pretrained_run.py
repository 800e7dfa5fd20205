"""The shipped model as a run of its own, so a fresh stack shows a trained agent at once.

`prospector train --pretrained register` (what `make up` and the compose stack run) calls
register_pretrained before its own run starts. The model package (models/ppo-pretrained,
prospector_common.policy.pretrained) becomes an ordinary finished run in the data dir and
the catalog:

    runs/<the model's run id>/run.json                 config, "pretrained": name, card hash
    runs/<the model's run id>/checkpoints/ckpt_N.pt     the package's policy.pt (window N)
    runs/<the model's run id>/metrics/windows.jsonl     the training run's window rows

and its window is announced on the windows stream like any other, so the evaluators play
it and record its replays (every_window, best_so_far, milestone). Safe to repeat: files
already there are kept, the catalog upserts, and the outbox sends an announcement once.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from prospector import spec
from prospector_common.catalog import Catalog
from prospector_common.outbox import Announcer, Outbox
from prospector_common.policy.pretrained import default_model_dir, verify
from prospector_common.storage import RunPaths, atomic_write_bytes, atomic_write_json, atomic_write_text, read_jsonl
from prospector_common.streams import WINDOWS_STREAM, WindowAnnouncement

log = logging.getLogger(__name__)


def register_pretrained(data_dir: Path, database_url: str, redis_url: str, *, model_dir: Path | None = None,
                        stream: str = WINDOWS_STREAM, flush_deadline_s: float = 2.0) -> str | None:
    """Registers the model package as a finished run; returns its run id (None: no model here)."""
    model_dir = model_dir or default_model_dir()
    if model_dir is None:
        log.info("no pretrained model to register (models/ppo-pretrained is not here)")
        return None
    card = verify(model_dir)  # a damaged package is an error, not a silently missing run
    run_id, window_id = card["run_id"], int(card["window_id"])
    paths = RunPaths(Path(data_dir), run_id)
    paths.make_dirs()
    checkpoint = paths.checkpoint(window_id)
    if not checkpoint.exists():
        atomic_write_bytes(checkpoint, (Path(model_dir) / "policy.pt").read_bytes())
    rows = [r for r in read_jsonl(Path(model_dir) / "windows.jsonl") if r.get("window_id", -1) <= window_id] \
        if (Path(model_dir) / "windows.jsonl").exists() else []
    last = next((r for r in rows if r.get("window_id") == window_id), None) or {
        "run_id": run_id, "window_id": window_id, "env_steps_total": card["env_steps"]}
    if not paths.metrics_file.exists():
        atomic_write_text(paths.metrics_file, "".join(json.dumps(r) + "\n" for r in (rows or [last])))
    if not paths.run_json.exists():
        atomic_write_json(paths.run_json, {
            "run_id": run_id, "created_at": card.get("created_at") or time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "spec_version": spec.SPEC_VERSION, "config": card["config"],
            "pretrained": {"name": card["name"], "sha256": card["sha256"]["policy.pt"],
                           "command": card.get("command")},
        })
    catalog = Catalog(database_url)
    try:
        catalog.create_all()
        catalog.upsert_run(run_id, config=card["config"], spec_version=spec.SPEC_VERSION,
                           git_sha=card["code_version"], status="finished")
        catalog.add_window(run_id, window_id, env_steps_total=card["env_steps"],
                           checkpoint_path=paths.relative(checkpoint), metrics=last)
    finally:
        catalog.close()
    message = WindowAnnouncement(run_id=run_id, window_id=window_id, env_steps=card["env_steps"],
                                 checkpoint_path=paths.relative(checkpoint), metrics=last)
    outbox = Outbox(paths.outbox_file)
    announcer = Announcer(redis_url, outbox)
    try:
        outbox.append(stream, message.msg_id, message.to_fields())
        announcer.flush(deadline_s=flush_deadline_s)
        if announcer.outbox.pending_count():
            log.warning("pretrained run %s: its window announcement waits in %s (Redis: %s); running "
                        "evaluators find the window in the catalog on their periodic catch-up",
                        run_id, paths.outbox_file, announcer.last_error)
    finally:
        announcer.close()
        outbox.close()
    log.info("pretrained model %s registered as run %s (window %d)", card["name"], run_id, window_id)
    return run_id
