"""The evaluator's command line: `prospector evaluate` (its entry point: add_evaluate).

`python -m prospector_evaluator` runs the same without the `prospector` command.
(`prospector replay verify` is the replay format's: prospector_common.cli; `prospector
bench eval` lives in bench/prospector_bench/evaluator.py.)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from prospector import spec


# ---- prospector evaluate -----------------------------------------------------------------


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="the evaluator service: tagged replays for every window announced on Redis",
        description="Read prospector:windows as the consumer group 'evaluators', play eval episodes with each "
                    "window's checkpoint, write replays, tag and catalog them, announce them on "
                    "prospector:replays. Serves EvaluatorService (gRPC) and Prometheus metrics.")
    add_evaluate_arguments(p)
    p.set_defaults(func=evaluate_main)


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--consumer", default=None, help="consumer name in the group (default: host-pid)")
    p.add_argument("--episodes", type=int, default=3, help="eval episodes per window (default 3)")
    p.add_argument("--sample", action="store_true",
                   help="sample actions from the policy (default: argmax); a policy with a greedy head "
                        "(prospector fit-greedy) plays greedily by its head either way")
    p.add_argument("--reward-mode", choices=(*spec.REWARD_MODES, "run"), default="sparse",
                   help="reward mode of the eval episodes; 'run' keeps the run's own (default sparse)")
    p.add_argument("--time-max", type=int, default=None, help="override the run's time budget (ticks)")
    p.add_argument("--claim-idle-ms", type=int, default=60_000,
                   help="claim entries pending this long on another consumer (default 60000)")
    p.add_argument("--block-ms", type=int, default=1_000, help="XREADGROUP block time (default 1000)")
    p.add_argument("--max-deliveries", type=int, default=5, help="dead-letter an entry delivered this often")
    p.add_argument("--checkpoint-attempts", type=int, default=3, help="checkpoint load attempts (default 3)")
    p.add_argument("--best-margin", type=float, default=100.0,
                   help="best_so_far: beat the run's best net profit by at least this (default 100)")
    p.add_argument("--best-margin-rel", type=float, default=0.05,
                   help="... or by this fraction of it, whichever is larger (default 0.05)")
    p.add_argument("--no-catch-up", action="store_true", help="skip un-evaluated catalog windows at start")
    p.add_argument("--exit-when-idle", action="store_true", help="stop once the stream has nothing left")
    p.add_argument("--grpc-port", type=int, default=None,
                   help="EvaluatorService port (default PROSPECTOR_EVALUATOR_GRPC_PORT; -1 disables)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="Prometheus port (default PROSPECTOR_EVALUATOR_METRICS_PORT; -1 disables)")
    p.add_argument("--windows-stream", default=None, help=argparse.SUPPRESS)  # tests: private stream names
    p.add_argument("--dead-stream", default=None, help=argparse.SUPPRESS)
    p.add_argument("--replays-stream", default=None, help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def evaluate_main(args: argparse.Namespace) -> int:
    from prospector_common.settings import get_settings
    from prospector_common.prometheus import start_metrics_server
    from prospector_rpc.server import serve_grpc

    from .evaluate import EvalOptions
    from .service import Evaluator, ServiceConfig, default_consumer_name
    from .servicer import EvaluatorServicer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    overrides = {"time_max": args.time_max} if args.time_max else {}
    options = EvalOptions(episodes=args.episodes, sample=args.sample,
                          reward_mode=None if args.reward_mode == "run" else args.reward_mode,
                          env_overrides=overrides, checkpoint_attempts=args.checkpoint_attempts,
                          best_margin_abs=args.best_margin, best_margin_rel=args.best_margin_rel)
    config = ServiceConfig(consumer_name=args.consumer or default_consumer_name(), options=options,
                           claim_idle_ms=args.claim_idle_ms, block_ms=args.block_ms,
                           max_deliveries=args.max_deliveries, catch_up=not args.no_catch_up,
                           exit_when_idle=args.exit_when_idle, progress=not args.quiet)
    for name in ("windows_stream", "dead_stream", "replays_stream"):
        if getattr(args, name, None):
            setattr(config, name, getattr(args, name))
    evaluator = Evaluator(settings, config)
    stop = threading.Event()

    def on_signal(signum, _frame):
        print(f"[evaluator] signal {signum}: stopping after the current window", file=sys.stderr, flush=True)
        evaluator.status["state"] = "stopping"
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    grpc_port = settings.evaluator_grpc_port if args.grpc_port is None else args.grpc_port
    metrics_port = settings.evaluator_metrics_port if args.metrics_port is None else args.metrics_port
    servicer = EvaluatorServicer(evaluator, operator_token=settings.operator_token)
    server = serve_grpc([servicer], grpc_port, host=settings.bind_host) if grpc_port >= 0 else None
    metrics_server = (start_metrics_server(metrics_port, evaluator.metrics.registry, host=settings.bind_host)
                      if metrics_port >= 0 else None)
    print(f"[evaluator] consumer {config.consumer_name} on {config.windows_stream} (group {config.group}); "
          f"gRPC {server.port if server else 'off'}, metrics {metrics_server.url if metrics_server else 'off'}",
          file=sys.stderr, flush=True)
    try:
        evaluator.run(stop)
    finally:
        if server is not None:
            server.stop(grace=2).wait()
        if metrics_server is not None:
            metrics_server.stop()
        evaluator.close()
    return 0
