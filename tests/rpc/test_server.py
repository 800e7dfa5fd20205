"""serve_grpc: servicers plus health and reflection, size limits, exclusive port, clean stop."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from prospector_rpc.pb import TRAINER_SERVICE, pb2, pb2_grpc
from prospector_rpc.server import serve_grpc
from prospector_trainer.servicer import TrainerServicer

from .conftest import HOST

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _check(channel, service: str):
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)


def test_health_is_serving_for_the_server_and_each_service(channel):
    assert _check(channel, "").status == SERVING
    assert _check(channel, TRAINER_SERVICE).status == SERVING


def test_health_of_a_service_not_served_is_not_found(channel):
    with pytest.raises(grpc.RpcError) as err:
        _check(channel, "prospector.v1.PlayService")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_follows_set_serving(trainer_server, channel):
    trainer_server.set_serving(TRAINER_SERVICE, False)
    assert _check(channel, TRAINER_SERVICE).status == NOT_SERVING
    assert _check(channel, "").status == SERVING
    trainer_server.set_serving(TRAINER_SERVICE, True)
    assert _check(channel, TRAINER_SERVICE).status == SERVING


def test_reflection_lists_the_services_and_describes_their_methods(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    assert set(database.get_services()) == {
        TRAINER_SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
    }
    pool = descriptor_pool.DescriptorPool(database)
    service = pool.FindServiceByName(TRAINER_SERVICE)
    assert [m.name for m in service.methods] == ["Status"]
    assert service.methods[0].output_type.full_name == "prospector.v1.TrainerStatus"
    assert "last_checkpoint_time" in pool.FindMessageTypeByName("prospector.v1.TrainerStatus").fields_by_name


def test_oversized_request_is_refused_with_resource_exhausted(trainer_status):
    limit = 64 * 1024
    server = serve_grpc([TrainerServicer(lambda: trainer_status)], port=0, host=HOST,
                        max_receive_message_bytes=limit)
    try:
        with grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
            raw = ch.unary_unary(f"/{TRAINER_SERVICE}/Status")  # bytes in, bytes out
            # a StatusRequest carrying an unknown bytes field (tag 15, wire type 2) of size n
            def request(n: int) -> bytes:
                return b"\x7a" + _varint(n) + b"x" * n

            small = pb2.TrainerStatus.FromString(raw(request(1000), timeout=5))
            assert small.run_id == trainer_status["run_id"]
            with pytest.raises(grpc.RpcError) as err:
                raw(request(limit + 1), timeout=5)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop(None).wait(5)


def test_oversized_reply_is_refused_with_resource_exhausted():
    huge = {"run_id": "r", "last_checkpoint_path": "p" * 200_000}
    server = serve_grpc([TrainerServicer(lambda: huge)], port=0, host=HOST, max_send_message_bytes=64 * 1024)
    try:
        with grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
            with pytest.raises(grpc.RpcError) as err:
                pb2_grpc.TrainerServiceStub(ch).Status(pb2.StatusRequest(), timeout=5)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop(None).wait(5)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_a_port_in_use_is_an_error_not_a_shared_socket(trainer_server, trainer_status):
    with pytest.raises(RuntimeError, match=str(trainer_server.port)):
        serve_grpc([TrainerServicer(lambda: trainer_status)], port=trainer_server.port, host=HOST)


def test_servicers_that_are_not_of_the_proto_are_rejected():
    with pytest.raises(TypeError, match="TrainerServiceServicer"):
        serve_grpc([object()], port=0, host=HOST)


def test_the_same_service_twice_is_rejected(trainer_status):
    servicer = TrainerServicer(lambda: trainer_status)
    with pytest.raises(ValueError, match="twice"):
        serve_grpc([servicer, servicer], port=0, host=HOST)


def test_stop_turns_health_off_then_refuses_calls_and_frees_the_port(trainer_status):
    server = serve_grpc([TrainerServicer(lambda: trainer_status)], port=0, host=HOST)
    port = server.port
    with grpc.insecure_channel(f"{HOST}:{port}") as ch:
        stub = pb2_grpc.TrainerServiceStub(ch)
        assert stub.Status(pb2.StatusRequest(), timeout=5).state == "training"
        stopped = server.stop(grace=0.5)
        assert server.stop(grace=0.5) is stopped  # idempotent
        assert stopped.wait(5)
        assert server.health.Check(health_pb2.HealthCheckRequest(service=TRAINER_SERVICE), None).status \
            == NOT_SERVING
        with pytest.raises(grpc.RpcError) as err:
            stub.Status(pb2.StatusRequest(), timeout=2)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    # the port is free again: a new server binds it
    again = serve_grpc([TrainerServicer(lambda: trainer_status)], port=port, host=HOST)
    again.stop(None).wait(5)


def test_server_is_a_grpc_server_and_a_context_manager(trainer_status):
    with serve_grpc([TrainerServicer(lambda: trainer_status)], port=0, host=HOST) as server:
        assert isinstance(server, grpc.Server)
        assert server.service_names == (TRAINER_SERVICE,)
        with grpc.insecure_channel(f"{HOST}:{server.port}") as ch:
            assert _check(ch, "").status == SERVING
