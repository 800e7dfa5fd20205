"""The trainer service end to end on the tiny config (3 windows): the real catalog (SQLite and
PostgreSQL), the real Redis (a stream of the test's own), W&B offline, gRPC and /metrics.
And the faults: Redis stopped mid-run, W&B broken, a duty that fails."""

from __future__ import annotations

import json
import math
import struct
import threading
import urllib.request
from pathlib import Path

import grpc
import pytest
from common.conftest import REDIS_URL
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prospector_common.catalog import Catalog
from prospector_common.ids import new_run_id
from prospector_common.outbox import Announcer, Outbox
from prospector_common.storage import RunPaths, read_jsonl
from prospector_common.streams import WINDOWS_STREAM, WindowAnnouncement, decode_fields
from prospector_rpc.pb import pb2, pb2_grpc

from prospector_common.policy.checkpoint import load_policy
from prospector_trainer.config import load_config
from prospector_trainer.duties import LogToWandb
from prospector_trainer.service import ServiceOptions, TrainerService

STREAM_FIELDS = {"v", "msg_id", "run_id", "window_id", "env_steps", "checkpoint_path", "metrics"}


def tiny(data_dir: Path, *overrides: str):
    return load_config("tiny", [f'run.data_dir="{data_dir}"', *overrides])


class AfterWindow:
    """A duty appended after the service's own: runs `action(window)` at the given windows."""

    def __init__(self, actions: dict):
        self.actions = actions

    def __call__(self, window):
        if window.window_id in self.actions:
            self.actions[window.window_id](window)


# ---- reading W&B's offline files -----------------------------------------------------------


def wandb_records(run_dir: Path):
    """Every record of the run's offline .wandb files (W&B's LevelDB-style log: a 7-byte file
    header, 32 KiB blocks, each chunk with a 7-byte header crc32/length/type)."""
    from wandb.proto import wandb_internal_pb2

    files = sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert files, f"no offline W&B run under {run_dir}/wandb"
    for path in files:
        data, block = path.read_bytes(), 32768
        assert data[:4] == b":W&B"
        pos, pending = 7, b""
        while pos + 7 <= len(data):
            if block - pos % block < 7:  # the block's tail is padding
                pos += block - pos % block
                continue
            _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
            body, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
            if kind in (1, 4):  # FULL, LAST
                record = wandb_internal_pb2.Record()
                record.ParseFromString(pending + body)
                pending = b""
                yield record
            elif kind in (2, 3):  # FIRST, MIDDLE
                pending += body


def wandb_history(run_dir: Path) -> list[dict]:
    rows = []
    for r in wandb_records(run_dir):
        if r.WhichOneof("record_type") == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
            row.setdefault("_step", r.history.step.num)
            rows.append(row)
    return rows


def wandb_artifacts(run_dir: Path) -> list[tuple[str, list[str], list[str]]]:
    return [(r.artifact.name, sorted(r.artifact.aliases), [e.path for e in r.artifact.manifest.contents])
            for r in wandb_records(run_dir) if r.WhichOneof("record_type") == "artifact"]


def same_number(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def stream_windows(client, stream: str) -> list[WindowAnnouncement]:
    return [WindowAnnouncement.from_fields(f) for _, f in client.xrange(stream)]


# ---- end to end --------------------------------------------------------------------------------


def test_tiny_run_end_to_end_with_catalog_redis_wandb_grpc_and_metrics(
        tmp_path, catalog_url, redis_client, stream_name):
    cfg = tiny(tmp_path, "run.wandb_mode=offline")
    service = TrainerService(cfg, ServiceOptions(grpc_port=0, metrics_port=0, database_url=catalog_url,
                                                 redis_url=REDIS_URL, stream=stream_name))
    seen = {}

    def probe(window):  # mid-run, over real sockets
        with grpc.insecure_channel(f"127.0.0.1:{service.grpc_server.port}") as channel:
            seen["status"] = pb2_grpc.TrainerServiceStub(channel).Status(pb2.StatusRequest(), timeout=5)
            seen["health"] = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        with urllib.request.urlopen(service.metrics_server.url, timeout=5) as response:
            seen["metrics"] = response.read().decode()

    run_id = new_run_id()
    run = service.train(run_id=run_id, extra_duties=[AfterWindow({1: probe})])
    paths = RunPaths(tmp_path, run_id)
    rows = read_jsonl(paths.metrics_file)

    # 3 checkpoints that load, 3 metrics rows
    assert paths.checkpoint_window_ids() == [0, 1, 2] and [r["window_id"] for r in rows] == [0, 1, 2]
    for w in (0, 1, 2):
        _, data = load_policy(paths.checkpoint(w))
        assert data["window_id"] == w and data["run_id"] == run_id

    # 3 catalog windows, checkpoint paths relative to the data dir; the run finished
    with Catalog(catalog_url) as catalog:
        record = catalog.get_run(run_id)
        assert record.status == "finished" and record.config == cfg.to_dict() and record.spec_version >= 1
        windows = catalog.list_windows(run_id)
    assert [w.window_id for w in windows] == [0, 1, 2]
    for w, row in zip(windows, rows):
        assert w.checkpoint_path == f"{run_id}/checkpoints/ckpt_{w.window_id}.pt"
        assert (tmp_path / w.checkpoint_path).is_file()
        assert w.env_steps_total == row["env_steps_total"] and w.metrics["window_id"] == row["window_id"]

    # 3 stream entries with the documented fields, in order
    raw = redis_client.xrange(stream_name)
    assert [set(decode_fields(f)) for _, f in raw] == [STREAM_FIELDS] * 3
    announced = stream_windows(redis_client, stream_name)
    assert [(a.run_id, a.window_id, a.env_steps) for a in announced] == \
        [(run_id, r["window_id"], r["env_steps_total"]) for r in rows]
    assert [a.checkpoint_path for a in announced] == [w.checkpoint_path for w in windows]
    assert announced[2].metrics["net_profit_mean"] == pytest.approx(rows[2]["net_profit_mean"])
    assert Outbox(paths.outbox_file).pending_count() == 0

    # W&B offline files inside the run dir hold every window's row at step = env_steps_total
    history = wandb_history(paths.run_dir)
    assert [h["_step"] for h in history] == [r["env_steps_total"] for r in rows]
    for h, row in zip(history, rows):
        for key in ("net_profit_mean", "return_mean", "survival_rate", "policy_loss", "learning_rate"):
            assert same_number(h[key], row[key]), key
    artifacts = wandb_artifacts(paths.run_dir)
    assert [(name, files) for name, _, files in artifacts] == \
        [(f"model-{run_id}", [f"ckpt_{w}.pt"]) for w in (0, 1, 2)]
    assert all("latest" in aliases for _, aliases, _ in artifacts)
    best = max(range(3), key=lambda w: (rows[w]["net_profit_mean"], -w))
    assert "best-profit" in artifacts[0][1] and "best-profit" in artifacts[best][1]

    # gRPC Status and /metrics answered during the run
    status = seen["status"]
    assert status.run_id == run_id and status.state == "checkpointing"
    assert status.env_steps == rows[1]["env_steps_total"] and status.current_window == 1
    assert status.last_checkpoint_path == f"{run_id}/checkpoints/ckpt_1.pt" and status.last_checkpoint_time > 0
    assert status.windows_done == 1 and status.episodes > 0 and status.sps > 0
    assert status.total_env_steps == cfg.run.total_env_steps
    assert seen["health"].status == health_pb2.HealthCheckResponse.SERVING
    metrics = {line.split()[0]: float(line.split()[1]) for line in seen["metrics"].splitlines()
               if line and not line.startswith("#")}
    assert metrics["prospector_trainer_env_steps_total"] == rows[1]["env_steps_total"]
    assert metrics["prospector_trainer_current_window"] == 1
    assert metrics["prospector_trainer_last_checkpoint_timestamp_seconds"] > 0
    # ... and both are gone after it
    assert service.grpc_server is None and service.metrics_server is None
    assert run.status["state"] == "stopped" and run.status["windows_done"] == 3


# ---- faults ---------------------------------------------------------------------------------------


def fault_options(tmp_path: Path, redis_url: str) -> ServiceOptions:
    return ServiceOptions(grpc_port=None, metrics_port=None, database_url=f"sqlite:///{tmp_path}/catalog.sqlite",
                          redis_url=redis_url, redis_timeout_s=0.2)


def test_redis_stopped_mid_run_every_window_arrives_once_in_order(tmp_path, private_redis):
    cfg = tiny(tmp_path / "runs", "run.wandb_mode=disabled")
    pending = {}

    def down(window):
        private_redis.stop()

    def up(window):  # window 1 was queued while Redis was down
        pending["while_down"] = service.announce_duty.announcer.pending_count()
        private_redis.start()

    service = TrainerService(cfg, fault_options(tmp_path, private_redis.url))
    run_id = new_run_id()
    service.train(run_id=run_id, extra_duties=[AfterWindow({0: down, 1: up})])

    assert pending["while_down"] == 1
    with private_redis.client() as client:
        announced = stream_windows(client, WINDOWS_STREAM)  # a private server: the real name
    assert [(a.run_id, a.window_id) for a in announced] == [(run_id, 0), (run_id, 1), (run_id, 2)]
    assert Outbox(RunPaths(tmp_path / "runs", run_id).outbox_file).pending_count() == 0


def test_redis_restarting_as_the_run_ends_still_gets_every_window(tmp_path, private_redis):
    # The last window is queued while Redis restarts, and Redis is back only after the run's
    # end: nothing flushes a finished run's outbox, so the trainer must wait for it.
    cfg = tiny(tmp_path / "runs", "run.wandb_mode=disabled")
    restart = threading.Timer(1.5, private_redis.start)

    def down(window):
        private_redis.stop()

    service = TrainerService(cfg, fault_options(tmp_path, private_redis.url))
    run_id = new_run_id()
    try:
        service.train(run_id=run_id, extra_duties=[AfterWindow({1: down, 2: lambda w: restart.start()})])
    finally:
        if restart.is_alive():  # started at window 2
            restart.join()

    with private_redis.client() as client:
        announced = stream_windows(client, WINDOWS_STREAM)
    assert [(a.run_id, a.window_id) for a in announced] == [(run_id, 0), (run_id, 1), (run_id, 2)]
    assert Outbox(RunPaths(tmp_path / "runs", run_id).outbox_file).pending_count() == 0
    assert service.status["announcements_pending"] == 0


def test_redis_down_at_the_end_then_resume_sends_the_queue_once_in_order(tmp_path, private_redis):
    data_dir = tmp_path / "runs"
    cfg = tiny(data_dir, "run.wandb_mode=disabled")
    options = fault_options(tmp_path, private_redis.url)
    options.exit_deadline_s = 0.5  # Redis stays down: the end of the run waits only this long for it
    run_id = new_run_id()
    TrainerService(cfg, options).train(run_id=run_id, extra_duties=[AfterWindow({0: lambda w: private_redis.stop()})])
    paths = RunPaths(data_dir, run_id)
    with Outbox(paths.outbox_file) as outbox:
        assert outbox.pending_count() == 2  # windows 1 and 2, waiting in the run's outbox

    private_redis.start()
    more = cfg.run.total_env_steps + cfg.run.window_env_steps
    TrainerService(cfg, options).train(resume=run_id, overrides=[f"run.total_env_steps={more}"])
    with private_redis.client() as client:
        announced = stream_windows(client, WINDOWS_STREAM)
    assert [a.window_id for a in announced] == [0, 1, 2, 3]
    with Catalog(options.database_url) as catalog:
        assert [w.window_id for w in catalog.list_windows(run_id)] == [0, 1, 2, 3]
        assert catalog.get_run(run_id).status == "finished"
    # a second flush over the same outbox changes nothing: exactly once
    with Outbox(paths.outbox_file) as outbox:
        announcer = Announcer(private_redis.url, outbox)
        assert announcer.flush() == 0
        announcer.close()
    with private_redis.client() as client:
        assert client.xlen(WINDOWS_STREAM) == 4


def test_a_failing_window_marks_the_run_failed_in_catalog_and_status(tmp_path):
    cfg = tiny(tmp_path / "runs", "run.wandb_mode=disabled", "run.total_env_steps=16384")

    def boom(window):
        raise RuntimeError("disk on fire")

    service = TrainerService(cfg, ServiceOptions(grpc_port=None, metrics_port=None, announce=False,
                                                 database_url=f"sqlite:///{tmp_path}/catalog.sqlite"))
    run_id = new_run_id()
    with pytest.raises(RuntimeError, match="disk on fire"):
        service.train(run_id=run_id, extra_duties=[AfterWindow({0: boom})])
    assert service.status["state"] == "failed" and "disk on fire" in service.status["error"]
    with Catalog(f"sqlite:///{tmp_path}/catalog.sqlite") as catalog:
        assert catalog.get_run(run_id).status == "failed"
        assert [w.window_id for w in catalog.list_windows(run_id)] == [0]


class FakeRun:
    def __init__(self, tmp_path):
        self.cfg = load_config("tiny", [])
        self.run_id = new_run_id()
        self.paths = RunPaths(tmp_path, self.run_id)
        self.paths.make_dirs()
        self.status = {}


def test_wandb_failures_never_stop_training(tmp_path, monkeypatch, caplog):
    import wandb

    run = FakeRun(tmp_path)
    monkeypatch.setattr(wandb, "init", lambda **kw: (_ for _ in ()).throw(OSError("no wandb today")))
    duty = LogToWandb("offline", "test")
    duty.start(run)  # no exception: W&B is off for this run
    assert duty.wb is None and "no wandb today" in caplog.text
    duty(object())  # windows are ignored
    duty.finish(run, "finished")

    class BrokenRun:
        url = None
        finished = False

        def log(self, *a, **kw):
            raise ConnectionError("wandb-core died")

        def finish(self, exit_code=None):
            self.finished = True

    broken = BrokenRun()
    monkeypatch.setattr(wandb, "init", lambda **kw: broken)
    duty = LogToWandb("offline", "test")
    duty.start(run)

    class Window:
        window_id, env_steps_total, run_id = 0, 1, run.run_id
        metrics = {"net_profit_mean": 1.0}
        checkpoint_path = run.paths.checkpoint(0)

    duty(Window())
    assert duty.wb is None and broken.finished and "wandb-core died" in caplog.text


def test_cli_train_with_redis_unreachable_finishes_and_keeps_the_announcements(tmp_path, monkeypatch):
    from prospector_trainer.cli import main

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    monkeypatch.delenv("DATABASE_URL", raising=False)         # -> SQLite in the run's data dir
    run_id = new_run_id()
    code = main(["train", "--config", "tiny", "--data-dir", str(tmp_path), "--run-id", run_id,
                 "--no-grpc", "--no-metrics", "--set", "run.wandb_mode=disabled"])
    assert code == 0
    with Catalog(f"sqlite:///{tmp_path}/catalog.sqlite") as catalog:
        assert [w.window_id for w in catalog.list_windows(run_id)] == [0, 1, 2]
    with Outbox(RunPaths(tmp_path, run_id).outbox_file) as outbox:
        assert [e.msg_id for e in outbox.unsent()] == [f"{run_id}:{w}" for w in (0, 1, 2)]


def test_wandb_runs_offline_unless_an_api_key_is_set(monkeypatch):
    from prospector_common.settings import Settings

    from prospector_trainer.duties import resolve_wandb_mode

    for name in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    no_key, key = Settings(), Settings(wandb_api_key="k" * 40)
    assert resolve_wandb_mode("", no_key) == "offline" and resolve_wandb_mode("", key) == "online"
    assert resolve_wandb_mode("online", no_key) == "offline"
    assert resolve_wandb_mode("offline", key) == "offline" and resolve_wandb_mode("disabled", key) == "disabled"
