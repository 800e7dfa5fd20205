"""TrainerService.Status over a real channel, fed by the dict the training loop updates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import numpy as np
import pytest

from prospector_rpc.pb import pb2, pb2_grpc
from prospector_rpc.server import serve_grpc
from prospector_trainer.servicer import TrainerServicer

from .conftest import HOST


def _status(channel) -> pb2.TrainerStatus:
    return pb2_grpc.TrainerServiceStub(channel).Status(pb2.StatusRequest(), timeout=5)


def test_status_reports_every_field_of_the_status_dict(channel, trainer_status):
    reply = _status(channel)
    assert reply.run_id == "20250101-120000-abc1234"
    assert reply.env_steps == 1_234_567
    assert reply.sps == pytest.approx(98_765.5)
    assert reply.current_window == 3
    assert reply.last_checkpoint_path == "runs/20250101-120000-abc1234/checkpoints/ckpt_2.pt"
    assert reply.last_checkpoint_time == pytest.approx(1_735_732_800.25)
    assert reply.state == "training"


def test_status_follows_the_dict_as_the_loop_updates_it(channel, trainer_status):
    trainer_status.update(env_steps=2_000_000, current_window=4, state="checkpointing", windows_done=4)
    reply = _status(channel)
    assert (reply.env_steps, reply.current_window, reply.state, reply.windows_done) == \
        (2_000_000, 4, "checkpointing", 4)


def test_missing_and_unknown_keys_and_loop_types_are_handled(trainer_status):
    status = {
        "run_id": "r1",
        "state": "starting",
        "env_steps": np.int64(4096),
        "sps": np.float32(1.5),
        "last_checkpoint_path": Path("runs/r1/checkpoints/ckpt_0.pt"),
        "last_checkpoint_time": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
        "current_window": None,
        "learning_rate": 3e-4,  # not a TrainerStatus field: ignored
    }
    with serve_grpc([TrainerServicer(lambda: status)], port=0, host=HOST) as server, \
            grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
        reply = _status(ch)
    assert reply.env_steps == 4096 and reply.sps == 1.5
    assert reply.last_checkpoint_path == "runs/r1/checkpoints/ckpt_0.pt"
    assert reply.last_checkpoint_time == 1_735_689_600.0
    assert reply.current_window == 0 and reply.total_env_steps == 0  # unset: the proto default


def test_a_failing_provider_gives_unavailable_with_the_reason():
    def provider():
        raise RuntimeError("loop not started")

    with serve_grpc([TrainerServicer(provider)], port=0, host=HOST) as server, \
            grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
        with pytest.raises(grpc.RpcError) as err:
            _status(ch)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "loop not started" in err.value.details()


def test_a_value_that_does_not_fit_gives_internal_naming_the_field():
    with serve_grpc([TrainerServicer(lambda: {"env_steps": "many"})], port=0, host=HOST) as server, \
            grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
        with pytest.raises(grpc.RpcError) as err:
            _status(ch)
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "TrainerStatus.env_steps" in err.value.details()
