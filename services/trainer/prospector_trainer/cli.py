"""The trainer's command line (its `prospector.commands` entry point is add_train):

    prospector train --config FILE [--set k=v ...] [--resume RUN_ID] [--run-id ID] [--data-dir DIR]
                     [--grpc-port P | --no-grpc] [--metrics-port P | --no-metrics]

    prospector fit-greedy CHECKPOINT [--generations N] [--out FILE]

`fit-greedy` fits the policy's greedy head (greedy_fit.py: how it plays deterministically) and
writes it into the checkpoint. `python -m prospector_trainer train ...` runs `train` without the
`prospector` command.
(`prospector bench train` and `bench learn` live in bench/prospector_bench/train.py.)

`train` under torchrun trains one run with N data-parallel ranks (distributed.py):

    torchrun --nproc-per-node N -m prospector_trainer train --config ...
    torchrun --nproc-per-node N $(which prospector) train --config ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_train(sub) -> None:
    p = sub.add_parser(
        "train", help="train PPO (PufferLib) in windows: checkpoints and metrics per window",
        description="The trainer service: PuffeRL over the C engine, one window of window_env_steps at a "
                    "time; each window writes a checkpoint and a metrics row.")
    add_train_arguments(p)
    p.set_defaults(func=train_main)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None,
                   help="TOML config file, or a name in services/trainer/prospector_trainer/configs (default, demo, tiny)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set ppo.learning_rate=3e-4 --set env.pirates=false")
    p.add_argument("--resume", default=None, metavar="RUN_ID",
                   help="continue RUN_ID from its last checkpoint (its stored config plus --set overrides)")
    p.add_argument("--run-id", default=None, help="id of a new run (default: UTC timestamp plus git sha)")
    p.add_argument("--data-dir", default=None, help="data root (default: $PROSPECTOR_DATA_DIR or ./runs)")
    p.add_argument("--progress", choices=("bar", "dashboard", "none"), default=None,
                   help="progress display (default: run.progress of the config)")
    p.add_argument("--grpc-port", type=int, default=None,
                   help="TrainerService gRPC port (default: $PROSPECTOR_TRAINER_GRPC_PORT or 50061; 0: any free)")
    p.add_argument("--no-grpc", action="store_true", help="do not serve the gRPC TrainerService")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="Prometheus /metrics port (default: $PROSPECTOR_TRAINER_METRICS_PORT or 9101; 0: any free)")
    p.add_argument("--no-metrics", action="store_true", help="do not serve Prometheus metrics")
    p.add_argument("--pretrained", choices=("register", "skip"), default="skip",
                   help="register: first register the shipped model (models/ppo-pretrained, or $PROSPECTOR_MODEL_DIR) "
                        "as a finished run in the catalog and announce its window, so evaluators play it (what "
                        "make up and the compose stack do, unless PROSPECTOR_PRETRAINED=skip); default skip")


def _sigterm_as_interrupt() -> None:
    """docker stop sends SIGTERM: end the run like Ctrl+C (duties finish, run marked interrupted)."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass


def train_main(args: argparse.Namespace) -> int:
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from . import distributed
    from prospector_common.policy.checkpoint import CheckpointError

    from .config import ConfigError, load_config
    from .progress import TrainProgress
    from .service import DEFAULT, ServiceOptions, TrainerService

    console = Console(stderr=True)
    overrides = list(args.overrides or [])
    if args.data_dir:
        overrides.append(f"run.data_dir={json.dumps(args.data_dir)}")
    if args.progress:
        overrides.append(f"run.progress={args.progress}")
    world = distributed.World()
    try:
        cfg = load_config(args.config or ("default" if not args.resume else None), overrides)
        if distributed.launched_by_torchrun():
            world = distributed.init(cfg.run.device)
        if not args.resume and world.is_main:
            console.print_json(json.dumps(cfg.to_dict()))
        prefix = f"rank {world.rank}: " if world.is_distributed else ""
        logging.basicConfig(level=logging.INFO, format=prefix + "%(message)s", handlers=[RichHandler(console=console)])
        options = ServiceOptions(
            grpc_port=None if args.no_grpc else (DEFAULT if args.grpc_port is None else args.grpc_port),
            metrics_port=None if args.no_metrics else (DEFAULT if args.metrics_port is None else args.metrics_port))
        _sigterm_as_interrupt()
        if args.pretrained == "register" and world.is_main:
            from prospector_common.policy.pretrained import ModelError
            from prospector_common.settings import Settings

            from .pretrained_run import register_pretrained

            settings = Settings(data_dir=cfg.data_dir) if cfg.run.data_dir else Settings()
            try:
                register_pretrained(Path(cfg.data_dir), settings.database_url, settings.redis_url)
            except ModelError as e:  # a damaged package: say so, and train anyway
                console.print(f"[yellow]pretrained model not registered:[/] {e}")
        progress = TrainProgress(cfg.run.progress, console) if world.is_main else None
        run = TrainerService(cfg, options).train(run_id=args.run_id, resume=args.resume, overrides=overrides,
                                                 progress=progress)
    except (ConfigError, CheckpointError, FileExistsError, ValueError, OSError) as e:
        console.print(f"[red]error:[/] {e}")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: the last finished window's checkpoint is the resume point")
        return 130
    finally:
        distributed.shutdown()
    if not world.is_main:
        return 0
    last = run.windows_done[-1] if run.windows_done else None
    console.print(f"run {run.run_id}: {len(run.windows_done)} windows"
                  + (f", last net profit mean {last['net_profit_mean']}" if last else "")
                  + f"  ({run.paths.run_dir})")
    return 0


def add_fit_greedy(sub) -> None:
    from .greedy_fit import FitSettings

    d = FitSettings()
    p = sub.add_parser(
        "fit-greedy", help="fit a checkpoint's greedy head (its deterministic play) by evolution strategies",
        description="Fits the greedy head of a trainer checkpoint's policy (prospector_common.policy.greedy) on "
                    "the greedy game's net profit, on calibration seeds from 2,000,000 on (never the tuning or "
                    "held-out ranges), and writes it into the checkpoint: evaluators, bench learn and the "
                    "exported policy then play greedily by it.")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--out", type=Path, default=None, help="write the checkpoint with its head here instead")
    p.add_argument("--generations", type=int, default=d.generations, help=f"default {d.generations}")
    p.add_argument("--pairs", type=int, default=d.pairs, help=f"antithetic pairs per generation (default {d.pairs})")
    p.add_argument("--games", type=int, default=d.games, help=f"games per head per generation (default {d.games})")
    p.set_defaults(func=fit_greedy_main)


def fit_greedy_main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from prospector_common.policy.checkpoint import CheckpointError

    from .greedy_fit import FitSettings, fit_checkpoint

    console = Console(stderr=True, soft_wrap=True)  # a path is not broken over lines
    if args.generations < 1 or args.pairs < 1 or args.games < 1:
        console.print("[red]error:[/] --generations, --pairs and --games must be at least 1")
        return 2
    settings = FitSettings(generations=args.generations, pairs=args.pairs, games=args.games)

    def progress(row: dict) -> None:
        console.print(f"generation {row['generation']}/{settings.generations}: population net profit mean "
                      f"{row['population_net_profit_mean']:,.0f} (best {row['population_best']:,.0f}), "
                      f"survival {row['population_survival']:.2f}, {row['seconds']:.0f} s")

    try:
        fit_checkpoint(args.checkpoint, settings, args.out, progress)
    except (CheckpointError, OSError) as e:
        console.print(f"[red]error:[/] {e}")
        return 2
    console.print(f"greedy head written to {args.out or args.checkpoint}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prospector_trainer")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(sub.add_parser("train", help="train PPO in windows"))
    args = parser.parse_args(argv)
    return train_main(args)


if __name__ == "__main__":
    sys.exit(main())
