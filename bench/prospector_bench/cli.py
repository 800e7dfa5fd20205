"""`prospector parity` and `prospector bench <target>`: the harness's commands.

The benchmark modules import no service at module level, so building the parser
loads none; a target's own imports happen when it runs, and a target whose part
is missing says which part to install.
"""

from __future__ import annotations

import argparse
import importlib

from prospector.cli import MissingPart, require

# target -> (one-line help, module, its add-arguments function, its main function,
#            the part it needs beyond the engine: (package, distribution, folder) or None)
TARGETS = {
    "env": ("env steps per second: C core, cffi batched / threaded, PufferLib, Gymnasium, reference",
            "prospector_bench.env", "add_arguments", "main_env", None),
    "train": ("end-to-end PPO training throughput (env steps/s including learning), env/learner split",
              "prospector_bench.train", "add_train_arguments", "train_main",
              ("prospector_trainer", "prospector-trainer", "services/trainer")),
    "learn": ("train PPO for a fixed budget, then play it against the bots on 200 held-out seeds",
              "prospector_bench.train", "add_learn_arguments", "learn_main",
              ("prospector_trainer", "prospector-trainer", "services/trainer")),
    "eval": ("evaluate and record one full-length episode: seconds, frames/s, bytes/frame",
             "prospector_bench.evaluator", "add_arguments", "main",
             ("prospector_evaluator", "prospector-evaluator", "services/evaluator")),
    "api": ("API play latency at 2,000 steps/s (HTTP, gRPC), saturation, WebSocket frames/s, the floor",
            "prospector_bench.api", "add_bench_api_arguments", "bench_api_main",
            ("prospector_api", "prospector-api", "services/api")),
}


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: env, train, learn, eval, api")
    targets = p.add_subparsers(dest="bench_target", metavar="target")
    targets.required = True
    for name, (help_text, module, add_name, main_name, needs) in TARGETS.items():
        t = targets.add_parser(name, help=help_text, description=help_text)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a library of the part it measures is missing
            t.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            t.set_defaults(func=_missing(name, needs, exc))
            continue
        getattr(mod, add_name)(t)
        t.set_defaults(func=_runner(name, module, main_name, needs))


def _runner(name: str, module: str, main_name: str, needs):
    def run(args: argparse.Namespace) -> int:
        if needs is not None:
            require(needs[0], f"bench {name}", needs[1], needs[2])
        return getattr(importlib.import_module(module), main_name)(args)

    return run


def _missing(name: str, needs, exc: ModuleNotFoundError):
    def run(args: argparse.Namespace) -> int:
        if needs is not None:
            require(needs[0], f"bench {name}", needs[1], needs[2])
        raise MissingPart(f"`prospector bench {name}` needs {exc.name}, which is not installed")

    return run


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
    p.set_defaults(func=_run_parity)


def _run_parity(args: argparse.Namespace) -> int:
    from . import parity

    return parity.main(args)
