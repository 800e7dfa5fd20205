"""TrainerService: the trainer's status over gRPC, read from a plain dict.

The training loop keeps one dict up to date (keys are TrainerStatus field
names: run_id, env_steps, sps, current_window, last_checkpoint_path,
last_checkpoint_time, state, ...) and hands a function returning it here:

    status = {"run_id": run_id, "state": "starting"}
    server = serve_grpc([TrainerServicer(lambda: status)], port=settings.trainer_grpc_port)
    ...
    status.update(env_steps=n, sps=sps, current_window=w)   # in the loop

Nothing is locked: each call reads the fields one ``dict.get`` at a time (see
prospector_rpc.convert), so a reply may mix two consecutive updates but never
fails because the loop is writing. The same dict feeds
``prospector_trainer.metrics.TrainerMetrics.update``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc

from prospector_rpc.convert import message_from_dict
from prospector_rpc.pb import pb2, pb2_grpc


class TrainerServicer(pb2_grpc.TrainerServiceServicer):
    """TrainerService.Status from ``status_provider()``, a mapping of TrainerStatus fields.

    A provider that raises gives UNAVAILABLE; a value that does not fit its
    field gives INTERNAL; both with the reason in the message.
    """

    def __init__(self, status_provider: Callable[[], Mapping[str, Any]]):
        if not callable(status_provider):
            raise TypeError("status_provider must be a function returning the status mapping")
        self._status_provider = status_provider

    def Status(self, request: pb2.StatusRequest, context: grpc.ServicerContext) -> pb2.TrainerStatus:
        try:
            status = self._status_provider()
        except Exception as exc:  # noqa: BLE001 - any failure of the provider is reported, not raised
            context.abort(grpc.StatusCode.UNAVAILABLE, f"trainer status unavailable: {type(exc).__name__}: {exc}")
        try:
            return message_from_dict(pb2.TrainerStatus, status)
        except (TypeError, ValueError) as exc:
            context.abort(grpc.StatusCode.INTERNAL, f"bad trainer status: {exc}")
