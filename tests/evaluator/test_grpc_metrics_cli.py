"""EvaluatorService over gRPC with health, Prometheus metrics, W&B never required, Redis outages, the bench."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prospector.cli import main as prospector_main
from prospector_common.catalog import TAG_EVERY_WINDOW
from prospector_common.settings import Settings
from prospector_evaluator.service import Evaluator
from prospector_evaluator.servicer import EvaluatorServicer
from prospector_evaluator.wandb_log import WandbReplayLogger
from prospector_common.prometheus import start_metrics_server
from prospector_rpc.pb import EVALUATOR_SERVICE, pb2, pb2_grpc
from prospector_rpc.server import serve_grpc

from .conftest import PrivateRedis, announce, make_evaluator, make_run, service_config


@pytest.fixture
def served(settings, catalog, streams):
    evaluator = make_evaluator(settings, streams, catalog)
    server = serve_grpc([EvaluatorServicer(evaluator)], port=0, host="127.0.0.1")
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    grpc.channel_ready_future(channel).result(timeout=10)
    yield evaluator, channel
    channel.close()
    server.stop(grace=None).wait(5)
    evaluator.close()


def test_status_health_and_evaluate_window_on_demand(served, settings, catalog):
    evaluator, channel = served
    paths, _ = make_run(catalog, settings.data_dir, 1)
    stub = pb2_grpc.EvaluatorServiceStub(channel)
    status = stub.Status(pb2.StatusRequest())
    assert status.consumer_name == evaluator.config.consumer_name and status.windows_done == 0
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=EVALUATOR_SERVICE))
    assert health.status == health_pb2.HealthCheckResponse.SERVING

    reply = stub.EvaluateWindow(pb2.EvaluateWindowRequest(run_id=paths.run_id, window_id=0, episodes=2))
    assert not reply.already_done and len(reply.replays) == 2 and list(reply.replay_ids)
    assert sum(TAG_EVERY_WINDOW in r.tags for r in reply.replays) == 1
    assert (settings.data_dir / reply.replays[0].path).is_file()
    again = stub.EvaluateWindow(pb2.EvaluateWindowRequest(run_id=paths.run_id, window_id=0))
    assert again.already_done and list(again.replay_ids) == list(reply.replay_ids)
    assert stub.Status(pb2.StatusRequest()).windows_done == 1

    with pytest.raises(grpc.RpcError) as bad:
        stub.EvaluateWindow(pb2.EvaluateWindowRequest(run_id="../etc", window_id=0))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as unknown:
        stub.EvaluateWindow(pb2.EvaluateWindowRequest(run_id=paths.run_id, window_id=7))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_prometheus_metrics_count_windows_frames_and_lag(settings, catalog, streams, redis_client):
    paths, messages = make_run(catalog, settings.data_dir, 2)
    for m in messages:
        announce(redis_client, streams.windows, m)
    evaluator = make_evaluator(settings, streams, catalog, catch_up=False)
    server = start_metrics_server(0, evaluator.metrics.registry, host="127.0.0.1")
    try:
        evaluator.run()
        text = urllib.request.urlopen(server.url, timeout=5).read().decode()
    finally:
        server.stop()
        evaluator.close()
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line and not line.startswith("#")}
    assert values["prospector_evaluator_windows_total"] == 2
    assert values["prospector_evaluator_replays_total"] == 4
    assert values["prospector_evaluator_frames_total"] > 0
    assert values["prospector_evaluator_eval_seconds_count"] == 2
    assert values["prospector_evaluator_queue_lag"] == 0
    assert values["prospector_evaluator_failures_total"] == 0


def test_wandb_failing_to_start_is_logged_not_fatal(tmp_path):
    logger = WandbReplayLogger("no-such-mode", "p", tmp_path, "x")
    logger(None, tmp_path / "missing")  # wandb.init refuses the mode: logged, no exception
    assert not logger.enabled
    logger.close()


def test_redis_down_at_start_is_waited_out_with_backoff(tmp_path, data_dir, catalog, streams):
    server = PrivateRedis(tmp_path)
    settings = Settings(data_dir=data_dir, redis_url=server.url, wandb_mode="disabled")
    paths, messages = make_run(catalog, data_dir, 1)
    evaluator = Evaluator(settings, service_config(streams, catch_up=False), catalog=catalog)
    thread = threading.Thread(target=evaluator.run)
    thread.start()
    try:
        time.sleep(0.5)  # the evaluator retries against a Redis that is not there
        assert thread.is_alive() and evaluator.status["state"] == "starting"
        server.start()
        with server.client() as client:
            announce(client, streams.windows, messages[0])
        thread.join(60)
        assert not thread.is_alive()
        with server.client() as client:
            assert len(client.xrange(streams.replays)) == 2
    finally:
        evaluator.close()
        server.kill()
    assert evaluator.status["windows_done"] == 1


def test_bench_eval_reports_seconds_frames_per_second_and_bytes_per_frame(capsys):
    assert prospector_main(["bench", "eval", "--json", "--quick", "--time-max", "300"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] > 0 and result["episode_seconds"] > 0 and result["verify_ok"]
    assert result["frames_per_second"] > 0 and 0 < result["bytes_per_frame"] < 2000


def test_replay_is_logged_as_an_offline_wandb_artifact(tmp_path, caplog):
    from datetime import datetime, timezone

    from prospector_common.catalog import ReplayRecord

    replay = tmp_path / "w000001-s7-00000000.jsonl.gz"
    replay.write_bytes(b"\x1f\x8b replay bytes")
    record = ReplayRecord(replay_id="w000001-s7-00000000", run_id="20261122-000000-nogit-abcd", window_id=1,
                          seed=7, net_profit=12.0, survival=1.0, length=40, tags=["every_window"],
                          path="x", created_at=datetime.now(timezone.utc), return_=0.5)
    logger = WandbReplayLogger("offline", "prospector-test", tmp_path, "evaluator-test")
    logger(record, replay)
    logger.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert logger.enabled, warnings
    logs = list(tmp_path.glob("wandb-evaluator/wandb/offline-run-*/run-*.wandb"))
    assert logs, f"no offline W&B run was written; warnings: {warnings}"
    # wandb's service process may still be writing the file when finish() returns
    name = b"replay-20261122-000000-nogit-abcd-1-w000001-s7-00000000"
    deadline = time.monotonic() + 20
    while name not in logs[0].read_bytes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert name in logs[0].read_bytes()
