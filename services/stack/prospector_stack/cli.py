"""`prospector up` and `prospector status`: arguments and entry points.

bindings/prospector/cli.py adds the subcommands with the `add_*_arguments`
functions here and calls the `*_main` functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .status import KINDS


def add_up_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None,
                   help="trainer config, a name in services/trainer/configs or a TOML file "
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
