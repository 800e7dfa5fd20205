"""`/api/progress`: what the trainer and the evaluator are doing now, for the page's
progress panel (before the first replay, and between windows).

The figures are the services' own: TrainerService.Status and EvaluatorService.Status
over gRPC (as `prospector status` reads them), each asked with a short timeout, so a
service that is down costs half a second and reads as "unreachable", never an error.
The current window's progress is the trainer's env steps past the last cataloged
window, out of the run's `run.window_env_steps`; the ETA divides what is left by SPS.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from ..deps import CatalogDep, SettingsDep

router = APIRouter(tags=["progress"])

TIMEOUT_S = 0.5


def _status(address: str, stub_name: str) -> dict[str, Any] | None:
    import grpc
    from google.protobuf.json_format import MessageToDict
    from prospector_rpc.pb import pb2, pb2_grpc

    try:
        with grpc.insecure_channel(address) as channel:
            reply = getattr(pb2_grpc, stub_name)(channel).Status(pb2.StatusRequest(), timeout=TIMEOUT_S)
    except grpc.RpcError:
        return None
    return MessageToDict(reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def window_progress(trainer: dict[str, Any] | None, catalog: Any) -> dict[str, Any] | None:
    """The window being trained: env steps into it of window_env_steps, SPS, ETA (seconds)."""
    if not trainer or not trainer.get("run_id"):
        return None
    run_id = trainer["run_id"]
    try:
        run = catalog.get_run(run_id)
        latest = catalog.latest_window(run_id)
    except Exception:  # noqa: BLE001 - an unknown or malformed run id: no window figures
        return None
    config = (run.config if run else {}) or {}
    per_window = _int(trainer.get("window_env_steps")) or _int((config.get("run") or {}).get("window_env_steps"))
    env_steps = _int(trainer.get("env_steps"))
    done = latest.env_steps_total if latest else 0
    into = max(0, env_steps - done)
    sps = float(trainer.get("sps") or 0.0)
    left = max(0, per_window - into) if per_window else None
    return {"run_id": run_id, "window_id": _int(trainer.get("current_window")), "env_steps": into,
            "window_env_steps": per_window or None,
            "fraction": min(1.0, into / per_window) if per_window else None,
            "sps": sps, "eta_s": (left / sps) if (left is not None and sps > 0) else None,
            "run_env_steps": env_steps, "total_env_steps": _int(trainer.get("total_env_steps")) or None}


@router.get("/api/progress", summary="The trainer's and the evaluator's states and the current window's progress")
def get_progress(settings: SettingsDep, catalog: CatalogDep) -> dict[str, Any]:
    trainer = _status(f"{settings.trainer_host}:{settings.trainer_grpc_port}", "TrainerServiceStub")
    evaluator = _status(f"{settings.evaluator_host}:{settings.evaluator_grpc_port}", "EvaluatorServiceStub")
    return {
        "time": time.time(),
        "trainer": {"reachable": trainer is not None, **(trainer or {})},
        "evaluator": {"reachable": evaluator is not None, **(evaluator or {})},
        "window": window_progress(trainer, catalog),
    }
