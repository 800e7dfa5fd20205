"""Fixtures for the gRPC and metrics plumbing: real servers on free localhost ports."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
import pytest

ROOT = Path(__file__).resolve().parents[2]

try:  # the editable install maps it; a checkout run with bare pytest may not have it
    import prospector_rpc  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "services" / "rpc"))

from prospector_rpc.server import serve_grpc  # noqa: E402
from prospector_trainer.servicer import TrainerServicer  # noqa: E402

HOST = "127.0.0.1"


@pytest.fixture
def trainer_status() -> dict:
    """The dict a training loop would keep up to date."""
    return {
        "run_id": "20250101-120000-abc1234",
        "env_steps": 1_234_567,
        "sps": 98_765.5,
        "current_window": 3,
        "last_checkpoint_path": "runs/20250101-120000-abc1234/checkpoints/ckpt_2.pt",
        "last_checkpoint_time": 1_735_732_800.25,
        "state": "training",
    }


@pytest.fixture
def trainer_server(trainer_status):
    server = serve_grpc([TrainerServicer(lambda: trainer_status)], port=0, host=HOST)
    yield server
    server.stop(grace=None).wait(5)


@pytest.fixture
def channel(trainer_server):
    with grpc.insecure_channel(f"{HOST}:{trainer_server.port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch
