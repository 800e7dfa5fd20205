"""`prospector`: the command line of the package.

One small function per subcommand; each imports its own module lazily
(prospector.parity, prospector.bench, prospector.bots), so `prospector
parity --help` does not load torch and a missing optional piece only breaks
its own subcommand.

    prospector parity --seeds 0:500          C engine vs Python reference, bit for bit
    prospector bench env [--json] [--quick]  env steps per second, side by side
    prospector bots --episodes N [--json]    the baseline bots and random on the same seeds
    prospector train --config FILE [--set k=v]  PPO in windows (services/trainer)
    prospector bench train|learn [--json]    training throughput; PPO against the bots
    prospector api [--port N] [--grpc-port N]  the API service (HTTP + gRPC PlayService)
    prospector bench api [--json] [--quick]  API play latency, saturation, WebSocket frames/s
    prospector up [--config NAME] [--evaluators N]  the whole stack as local processes (Ctrl-C stops it)
    prospector status [--json] [--check SERVICE]    every service's health, SPS, window, lag, sessions
"""

from __future__ import annotations

import argparse
import sys


def cmd_parity(args: argparse.Namespace) -> int:
    from prospector import parity

    return parity.main(args)


def add_parity(sub) -> None:
    p = sub.add_parser(
        "parity", help="run the C engine and the Python reference side by side, bit for bit",
        description="Run the C engine and the pure-Python reference side by side for a full episode "
                    "per seed and workload, comparing observations, rewards, flags, masks and episode "
                    "metrics at every step. Exit code 1 on any mismatch; each mismatched episode "
                    "writes a bundle JSON.")
    p.add_argument("--seeds", default="0:100", help="seed range A:B (A included, B not), or one seed (default 0:100)")
    p.add_argument("--steps", type=int, default=None, help="at most this many steps per episode (default: to the end)")
    p.add_argument("--workload", choices=("random", "long", "miner", "both", "all"), default="both",
                   help="random: uniform over 0..68 plus out-of-range ints; long: uniform over valid "
                        "actions without CASH_OUT; miner: a crude mining policy that reaches overheat, "
                        "trade and time-outs; both: random and long (default); all: the three")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument("--bundle-dir", default="runs/parity", help="where mismatch bundles go (default runs/parity/)")
    p.add_argument("--config", default=None, help="env config: a JSON object or the path of a JSON file")
    p.add_argument("--jobs", type=int, default=None, help="processes (default: min(2, CPUs))")
    p.set_defaults(func=cmd_parity)


def cmd_bench(args: argparse.Namespace) -> int:
    from prospector import bench

    return bench.main_env(args)


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks (env steps per second)")
    targets = p.add_subparsers(dest="bench_target", metavar="target")
    targets.required = True
    env = targets.add_parser(
        "env", help="env steps per second: C core, cffi batched / threaded, PufferLib, Gymnasium, reference",
        description="Env steps per second (median of several runs, two workloads: random and long), "
                    "state size per env and RSS growth. Targets are printed with pass/fail marks, never fatal.")
    env.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    env.add_argument("--quick", action="store_true", help="small sizes, a few seconds (for tests)")
    env.add_argument("--n-envs", type=int, default=None, help="envs per batch (default 1024; quick 64)")
    env.add_argument("--steps", type=int, default=None, help="batch steps per run (default 1000; quick 40)")
    env.add_argument("--repeats", type=int, default=None, help="runs per figure and workload (default 5; quick 3)")
    env.add_argument("--threads", type=int, default=None, help="engine threads and vector workers (default: one per core)")
    env.set_defaults(func=cmd_bench)
    from prospector_trainer import cli as trainer_cli  # argparse only; torch loads when a command runs

    train = targets.add_parser(
        "train", help="end-to-end PPO training throughput (env steps/s including learning), env/learner split")
    trainer_cli.add_bench_train_arguments(train)
    train.set_defaults(func=trainer_cli.bench_train_main)
    learn = targets.add_parser(
        "learn", help="train PPO for a fixed budget, then play it against the bots on 200 held-out seeds")
    trainer_cli.add_bench_learn_arguments(learn)
    learn.set_defaults(func=trainer_cli.bench_learn_main)
    add_bench_eval(targets)
    from prospector_api import bench as api_bench  # argparse only; the load runs when the command does

    api = targets.add_parser(
        "api", help="API play latency at 2,000 steps/s (HTTP, gRPC), saturation, WebSocket frames/s")
    api_bench.add_bench_api_arguments(api)
    api.set_defaults(func=api_bench.bench_api_main)


def cmd_bots(args: argparse.Namespace) -> int:
    from prospector import bots

    return bots.main(args)


def add_bots(sub) -> None:
    p = sub.add_parser(
        "bots", help="run the baseline bots and random on the same seeds",
        description="Greedy miner, cautious scanner, market timer and a random policy, each on the same "
                    "N seeds of the full game: mean and median net profit, survival, profit per tick, "
                    "overheat ticks, pirate encounters.")
    p.add_argument("--episodes", type=int, default=100, help="episodes per bot (default 100)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=cmd_bots)


def add_train(sub) -> None:
    from prospector_trainer import cli as trainer_cli

    p = sub.add_parser(
        "train", help="train PPO (PufferLib) in windows: checkpoints and metrics per window",
        description="The trainer service: PuffeRL over the C engine, one window of window_env_steps at a "
                    "time; each window writes a checkpoint and a metrics row.")
    trainer_cli.add_train_arguments(p)
    p.set_defaults(func=trainer_cli.train_main)


def add_evaluate(sub) -> None:
    from prospector_evaluator import cli as evaluator_cli  # argparse only; torch loads when a command runs

    p = sub.add_parser(
        "evaluate", help="the evaluator service: tagged replays for every window announced on Redis",
        description="Read prospector:windows as the consumer group 'evaluators', play eval episodes with each "
                    "window's checkpoint, write replays, tag and catalog them, announce them on "
                    "prospector:replays. Serves EvaluatorService (gRPC) and Prometheus metrics.")
    evaluator_cli.add_evaluate_arguments(p)
    p.set_defaults(func=evaluator_cli.evaluate_main)


def add_replay(sub) -> None:
    from prospector_evaluator import cli as evaluator_cli

    p = sub.add_parser("replay", help="replay files: verify")
    actions = p.add_subparsers(dest="replay_action", metavar="action")
    actions.required = True
    verify = actions.add_parser(
        "verify", help="re-simulate a replay from its seed, config and actions; check every frame",
        description="Re-simulate the replay with the engine from its seed, env config and action list and "
                    "check that every frame matches exactly. Exit code 1 naming the first differing frame.")
    evaluator_cli.add_replay_verify_arguments(verify)
    verify.set_defaults(func=evaluator_cli.replay_verify_main)


def add_bench_eval(targets) -> None:
    from prospector_evaluator import cli as evaluator_cli

    p = targets.add_parser(
        "eval", help="evaluate and record one full-length episode: seconds, frames/s, bytes/frame")
    evaluator_cli.add_bench_eval_arguments(p)
    p.set_defaults(func=evaluator_cli.bench_eval_main)


def add_api(sub) -> None:
    from prospector_api import server as api_server  # argparse only; FastAPI loads when the command runs

    p = sub.add_parser(
        "api", help="the API service: HTTP (REST, WebSocket, live events, play) and the gRPC PlayService",
        description="Serve the HTTP API (runs, windows, replays, live events, play sessions, the web page) "
                    "with uvicorn and the gRPC PlayService in the same process; sessions live in Redis.")
    api_server.add_api_arguments(p)
    p.set_defaults(func=api_server.api_main)


def add_up(sub) -> None:
    from prospector_stack import cli as stack_cli  # argparse only; the launcher loads when the command runs

    p = sub.add_parser(
        "up", help="the whole stack as local processes: Redis, trainer, evaluator(s), API and the page",
        description="Run the docker-compose.yml services' own commands as local processes (no Docker): a "
                    "Redis of its own unless REDIS_URL is set, the SQLite catalog unless DATABASE_URL is set. "
                    "Prints the page URL and the gRPC address, shows each service's state, restarts what "
                    "dies, and stops every process it started on Ctrl-C.")
    stack_cli.add_up_arguments(p)
    p.set_defaults(func=stack_cli.up_main)


def add_status(sub) -> None:
    from prospector_stack import cli as stack_cli

    p = sub.add_parser(
        "status", help="one table: every service's health, trainer SPS and window, evaluator lag, API sessions",
        description="Ask every service how it is (gRPC health, /healthz, /metrics, the trainer's and "
                    "evaluators' Status, the consumer group's lag in Redis). Finds a running `prospector up` "
                    "through the data root, else uses the settings (PROSPECTOR_*_HOST and ports). "
                    "Exit code 1 when any service is not healthy.")
    stack_cli.add_status_arguments(p)
    p.set_defaults(func=stack_cli.status_main)


# Subcommands: one adder each, each delegating to its own module.
SUBCOMMANDS = [add_parity, add_bench, add_bots, add_train, add_evaluate, add_replay, add_api, add_up, add_status]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prospector", description="Asteroid Belt Prospector tools")
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        parser.error(str(exc))
    return 2  # pragma: no cover - parser.error exits


if __name__ == "__main__":
    sys.exit(main())
