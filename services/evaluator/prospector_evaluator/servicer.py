"""EvaluatorService over gRPC: Status from the evaluator's status dict, EvaluateWindow on demand.

EvaluateWindow records replays and tags in the catalog: when an operator token is
configured (PROSPECTOR_OPERATOR_TOKEN) it needs `authorization: Bearer <token>` in
its metadata (UNAUTHENTICATED otherwise); Status is read-only and always open.

A request's `seed` (the first episode's) must leave every episode's seed (seed, seed+1, ...)
in the project's one seed range, 0..2^53-1 (the integers JSON and JavaScript hold exactly,
as for play on every transport); beyond it is INVALID_ARGUMENT."""

from __future__ import annotations

from typing import Any

import grpc
from prospector_common.ids import InvalidId, validate_run_id, validate_window_id
from prospector_rpc.auth import require_operator
from prospector_rpc.convert import fields_set, message_from_dict
from prospector_rpc.pb import pb2, pb2_grpc

from .evaluate import CheckpointUnusable, EvalOptions, WindowNotFound

#: The project's one seed range is 0..MAX_SEED (the engine's PR_SEED_MAX; the API's play seeds).
MAX_SEED = 2**53 - 1

def _replay_summary(record: Any) -> dict:
    return {"replay_id": record.replay_id, "seed": record.seed, "episode_return": record.return_,
            "net_profit": record.net_profit, "survived": record.survival, "length": record.length,
            "tags": list(record.tags), "path": record.path}


class EvaluatorServicer(pb2_grpc.EvaluatorServiceServicer):
    """Backed by a service.Evaluator (its status dict, its evaluate())."""

    def __init__(self, evaluator: Any, operator_token: Any = None):
        self.evaluator = evaluator
        self.operator_token = operator_token  # None: EvaluateWindow is open (a local run without one)

    def Status(self, request: pb2.StatusRequest, context: grpc.ServicerContext) -> pb2.EvaluatorStatus:
        try:
            return message_from_dict(pb2.EvaluatorStatus, dict(self.evaluator.status))
        except (TypeError, ValueError) as exc:
            context.abort(grpc.StatusCode.INTERNAL, f"bad evaluator status: {exc}")

    def EvaluateWindow(self, request: pb2.EvaluateWindowRequest,
                       context: grpc.ServicerContext) -> pb2.EvaluateWindowReply:
        require_operator(context, self.operator_token, "EvaluateWindow")
        try:
            run_id = validate_run_id(request.run_id)
            window_id = validate_window_id(int(request.window_id))
        except InvalidId as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        base: EvalOptions = self.evaluator.config.options
        overrides = fields_set(request.env) if request.HasField("env") else {}
        reward_mode = overrides.pop("reward_mode", base.reward_mode)
        if request.episodes < 0 or request.episodes > 100:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "episodes must be in 0..100 (0: the default)")
        episodes = request.episodes or base.episodes
        if request.HasField("seed") and request.seed + episodes - 1 > MAX_SEED:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"seed {request.seed} is out of range: the seeds of the {episodes} episode(s), "
                          f"seed..seed+{episodes - 1}, must lie in 0..2**53-1 ({MAX_SEED}), the one seed "
                          "range of every transport")
        try:
            options = EvalOptions(
                episodes=episodes, sample=request.sample, reward_mode=reward_mode,
                env_overrides={**base.env_overrides, **overrides},
                first_seed=request.seed if request.HasField("seed") else None, force=request.force,
                gzip_level=base.gzip_level, best_margin_abs=base.best_margin_abs,
                best_margin_rel=base.best_margin_rel, checkpoint_attempts=base.checkpoint_attempts,
                checkpoint_retry_s=base.checkpoint_retry_s)
            result = self.evaluator.evaluate(run_id, window_id, options)
        except (WindowNotFound, CheckpointUnusable) as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except (ValueError, TypeError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return message_from_dict(pb2.EvaluateWindowReply, {
            "run_id": run_id, "window_id": window_id, "replay_ids": [r.replay_id for r in result.replays],
            "replays": [_replay_summary(r) for r in result.replays], "already_done": result.already_done,
            "seconds": result.seconds})
