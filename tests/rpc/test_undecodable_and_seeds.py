"""The thread-pool gRPC servers (trainer, evaluator) answer bytes that are not the request message
with INVALID_ARGUMENT and one log line, on every kind of method, and EvaluateWindow keeps its
seeds in the project's one seed range (0..2^53-1)."""

from __future__ import annotations

import logging
import time

import grpc
import pytest
from prospector_evaluator.evaluate import EvalOptions, WindowNotFound
from prospector_evaluator.servicer import MAX_SEED, EvaluatorServicer
from prospector_rpc.pb import EVALUATOR_SERVICE, TRAINER_SERVICE, pb2, pb2_grpc
from prospector_rpc.server import serve_grpc
from prospector_trainer.servicer import TrainerServicer

from .conftest import HOST

CORRUPT = b"\xff\xff\xff\xff"  # a field tag with an unfinished varint: no message parses from it


class _Config:
    options = EvalOptions()


class RecordingEvaluator:
    """What EvaluatorServicer reads of service.Evaluator: its status, config and evaluate(). Every
    window is unknown here (NOT_FOUND), so a call that gets that far shows the request passed the
    servicer's checks."""

    def __init__(self) -> None:
        self.status = {"state": "idle", "consumer_name": "test"}
        self.config = _Config()
        self.calls: list[tuple[str, int, EvalOptions]] = []

    def evaluate(self, run_id: str, window_id: int, options: EvalOptions):
        self.calls.append((run_id, window_id, options))
        raise WindowNotFound(f"no window {window_id} of run {run_id}")


@pytest.fixture
def evaluator_server():
    evaluator = RecordingEvaluator()
    server = serve_grpc([EvaluatorServicer(evaluator)], port=0, host=HOST)
    yield server, evaluator
    server.stop(grace=None).wait(5)


def _rejections(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "answered INVALID_ARGUMENT" in r.getMessage()]


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("method", [f"/{TRAINER_SERVICE}/Status", "/grpc.health.v1.Health/Check"])
def test_trainer_server_answers_corrupt_unary_requests_invalid_argument_with_one_line(
        trainer_server, channel, caplog, method):
    caplog.set_level(logging.INFO)
    with pytest.raises(grpc.RpcError) as err:
        channel.unary_unary(method)(CORRUPT, timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a valid" in err.value.details()
    _wait_for(lambda: _rejections(caplog))
    lines = _rejections(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None and method.rsplit("/", 1)[-1] in lines[0].getMessage()
    assert not [r for r in caplog.records if r.name.startswith("grpc") and r.exc_info]  # no traceback
    # the server still answers good requests on the same channel
    assert pb2_grpc.TrainerServiceStub(channel).Status(pb2.StatusRequest(), timeout=5).run_id


def test_corrupt_message_on_a_request_stream_ends_it_invalid_argument(trainer_server, channel, caplog):
    caplog.set_level(logging.INFO)
    stream = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    with pytest.raises(grpc.RpcError) as err:
        list(stream(iter([CORRUPT]), timeout=5))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _wait_for(lambda: _rejections(caplog))
    assert len(_rejections(caplog)) == 1


def test_corrupt_request_of_a_server_stream_is_invalid_argument(trainer_server, channel):
    watch = channel.unary_stream("/grpc.health.v1.Health/Watch")
    with pytest.raises(grpc.RpcError) as err:
        list(watch(CORRUPT, timeout=5))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_on_undecodable_is_told_the_method(trainer_status):
    seen: list[str] = []
    server = serve_grpc([TrainerServicer(lambda: trainer_status)], port=0, host=HOST, on_undecodable=seen.append)
    try:
        with grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
            with pytest.raises(grpc.RpcError):
                ch.unary_unary(f"/{TRAINER_SERVICE}/Status")(CORRUPT, timeout=5)
            ch.unary_unary(f"/{TRAINER_SERVICE}/Status")(b"", timeout=5)  # an empty StatusRequest is fine
    finally:
        server.stop(None).wait(5)
    assert seen == [f"/{TRAINER_SERVICE}/Status"]


def test_evaluator_server_answers_corrupt_requests_invalid_argument(evaluator_server, caplog):
    caplog.set_level(logging.INFO)
    server, evaluator = evaluator_server
    with grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
        for method in ("Status", "EvaluateWindow"):
            with pytest.raises(grpc.RpcError) as err:
                ch.unary_unary(f"/{EVALUATOR_SERVICE}/{method}")(CORRUPT, timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
        assert pb2_grpc.EvaluatorServiceStub(ch).Status(pb2.StatusRequest(), timeout=5).state == "idle"
    _wait_for(lambda: len(_rejections(caplog)) >= 2)
    assert len(_rejections(caplog)) == 2
    assert evaluator.calls == []


@pytest.mark.parametrize("seed, episodes", [(MAX_SEED + 1, 1), (2**64 - 1, 0), (MAX_SEED, 2), (MAX_SEED - 1, 3)])
def test_evaluate_window_refuses_seeds_beyond_the_one_range(evaluator_server, seed, episodes):
    server, evaluator = evaluator_server
    with grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
        with pytest.raises(grpc.RpcError) as err:
            pb2_grpc.EvaluatorServiceStub(ch).EvaluateWindow(
                pb2.EvaluateWindowRequest(run_id="20250101-120000-abc1234-0a1b", window_id=0, seed=seed,
                                          episodes=episodes), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "0..2**53-1" in err.value.details() and str(seed) in err.value.details()
    assert evaluator.calls == []  # refused before anything was played


@pytest.mark.parametrize("seed, episodes", [(0, 1), (MAX_SEED, 1), (MAX_SEED - 2, 3), (MAX_SEED - 2, 0)])
def test_evaluate_window_takes_seeds_up_to_the_end_of_the_range(evaluator_server, seed, episodes):
    server, evaluator = evaluator_server
    with grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
        with pytest.raises(grpc.RpcError) as err:
            pb2_grpc.EvaluatorServiceStub(ch).EvaluateWindow(
                pb2.EvaluateWindowRequest(run_id="20250101-120000-abc1234-0a1b", window_id=0, seed=seed,
                                          episodes=episodes), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND  # past the checks: the window is unknown
    (_, _, options), = evaluator.calls
    assert options.first_seed == seed and options.episodes == (episodes or EvalOptions().episodes)
