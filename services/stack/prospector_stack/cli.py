"""`prospector up` and `prospector status`: arguments and entry points.

The `prospector.commands` entry points of this part are add_up and add_status
(see bindings/prospector/cli.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .status import KINDS


def add_up(sub) -> None:
    p = sub.add_parser(
        "up", help="the whole stack as local processes: Redis, trainer, evaluator(s), API and the page",
        description="Run the docker-compose.yml services' own commands as local processes (no Docker): a "
                    "Redis of its own unless REDIS_URL is set, the SQLite catalog unless DATABASE_URL is set. "
                    "Prints the page URL and the gRPC address, shows each service's state, restarts what "
                    "dies, and stops every process it started on Ctrl-C.")
    add_up_arguments(p)
    p.set_defaults(func=up_main)


def add_status(sub) -> None:
    p = sub.add_parser(
        "status", help="one table: every service's health, trainer SPS and window, evaluator lag, API sessions",
        description="Ask every service how it is (gRPC health, /healthz, /metrics, the trainer's and "
                    "evaluators' Status, the consumer group's lag in Redis). Finds a running `prospector up` "
                    "through the data root, else uses the settings (PROSPECTOR_*_HOST and ports). "
                    "Exit code 1 when any service is not healthy.")
    add_status_arguments(p)
    p.set_defaults(func=status_main)


def add_up_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None,
                   help="trainer config, a name in services/trainer/prospector_trainer/configs or a TOML file "
                        "(default: $PROSPECTOR_TRAIN_CONFIG or demo)")
    p.add_argument("--evaluators", type=int, default=1, metavar="N",
                   help="evaluator processes sharing the windows (like --scale evaluator=N; default 1)")
    p.add_argument("--data-dir", type=Path, default=None, help="data root (default: $PROSPECTOR_DATA_DIR or ./runs)")
    p.add_argument("--redis-port", type=int, default=None,
                   help="port of the Redis it starts when REDIS_URL is unset (default: a free port)")
    p.add_argument("--status-every", type=float, default=60.0, metavar="S",
                   help="print the status table every S seconds (0: never; default 60)")
    p.add_argument("--quiet", action="store_true", help="no service output here (it still goes to the log files)")
    p.add_argument("--compose-file", type=Path, default=None, help=argparse.SUPPRESS)


def up_main(args: argparse.Namespace) -> int:
    from .launcher import UpOptions, run_up

    if args.evaluators < 1:
        raise ValueError("--evaluators must be at least 1")
    return run_up(UpOptions(data_dir=args.data_dir, evaluators=args.evaluators, config=args.config,
                            redis_port=args.redis_port, compose_file=args.compose_file,
                            echo_logs=not args.quiet, status_every_s=args.status_every))


def add_status_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON list of rows instead of the table")
    p.add_argument("--check", choices=(*KINDS, "redis"), default=None, metavar="SERVICE",
                   help="only this service (trainer, evaluator, api, redis); exit 0 when healthy, print only "
                        "problems (the compose health checks)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per probe (default 2)")
    p.add_argument("--data-dir", type=Path, default=None, help="data root of a running `prospector up`")


def status_main(args: argparse.Namespace) -> int:
    import os

    from prospector_common.settings import Settings

    from .status import HEALTHY, Targets, collect, print_table

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    if args.check:
        # A health check asks this machine's (this container's) own process.
        local = Settings(**overrides, trainer_host="127.0.0.1", evaluator_host="127.0.0.1", api_host="127.0.0.1")
        targets = Targets.from_settings(local)
        rows = collect(targets, only=[args.check], timeout=args.timeout)
    else:
        targets = Targets.discover(Settings(**overrides))
        rows = collect(targets, timeout=args.timeout)
    healthy = bool(rows) and all(row.health == HEALTHY for row in rows)
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
    elif args.check:
        for row in rows:
            if row.health != HEALTHY:
                print(f"{row.service}: {row.health}: {'; '.join(row.problems)}", file=sys.stderr)
    else:
        found = "prospector up" if targets.source != "settings" else "the settings' addresses"
        print_table(rows, title=f"Asteroid Belt Prospector on {os.uname().nodename} ({found})")
    return 0 if healthy else 1
