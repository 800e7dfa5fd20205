"""The Python code generated from protos/prospector.proto, in one import.

    from prospector_rpc.pb import pb2, pb2_grpc

The generated modules are built by ``make setup`` (``make protos``) into
``prospector_rpc/gen/`` and are not committed, so a checkout that has not run
it gets an ImportError that says so instead of a bare ModuleNotFoundError.
"""

from __future__ import annotations

try:
    from .gen import prospector_pb2 as pb2
    from .gen import prospector_pb2_grpc as pb2_grpc
except ImportError as exc:  # pragma: no cover - exercised only on an unbuilt checkout
    raise ImportError(
        "prospector_rpc.gen is missing: the gRPC code is generated from protos/prospector.proto "
        "by `make setup` (or `make protos`)"
    ) from exc

#: Full names of the services in prospector.proto, e.g. "prospector.v1.TrainerService".
SERVICE_NAMES: tuple[str, ...] = tuple(s.full_name for s in pb2.DESCRIPTOR.services_by_name.values())

TRAINER_SERVICE = pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name
EVALUATOR_SERVICE = pb2.DESCRIPTOR.services_by_name["EvaluatorService"].full_name
PLAY_SERVICE = pb2.DESCRIPTOR.services_by_name["PlayService"].full_name

__all__ = ["pb2", "pb2_grpc", "SERVICE_NAMES", "TRAINER_SERVICE", "EVALUATOR_SERVICE", "PLAY_SERVICE"]
