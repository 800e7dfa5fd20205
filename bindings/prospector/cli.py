"""`prospector`: one command line for every part of the project.

Each part (an installable distribution) declares the subcommands it brings as
`prospector.commands` entry points, a function that adds its subparser:

    prospector-engine     bots, parity, bench (env; train, learn, eval and api need their part)
    prospector-common     replay verify
    prospector-trainer    train
    prospector-evaluator  evaluate
    prospector-api        api
    prospector-stack      up, status

Only the subcommand that runs is imported, so `prospector parity` loads the
engine alone, never torch or a web framework. A subcommand whose part is not
installed says which part to install.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

GROUP = "prospector.commands"

# Every subcommand the project's parts bring: (part, the folder it installs from, one-line help).
# It is what `prospector --help` lists, and how a missing part is named; the code itself is found
# through the entry points of the installed parts.
KNOWN = {
    "bots": ("prospector-engine", "bindings", "run the baseline bots and random on the same seeds"),
    "parity": ("prospector-engine", "bindings", "run the C engine and the Python reference side by side, bit for bit"),
    "bench": ("prospector-engine", "bindings", "benchmarks: env, train, learn, eval, api"),
    "replay": ("prospector-common", "services/common", "replay files: verify"),
    "train": ("prospector-trainer", "services/trainer",
              "train PPO (PufferLib) in windows: checkpoints and metrics per window"),
    "fit-greedy": ("prospector-trainer", "services/trainer",
                   "fit a checkpoint's greedy head (its deterministic play) by evolution strategies"),
    "evaluate": ("prospector-evaluator", "services/evaluator",
                 "the evaluator service: tagged replays for every window announced on Redis"),
    "api": ("prospector-api", "services/api",
            "the API service: HTTP (REST, WebSocket, live events, play) and the gRPC PlayService"),
    "up": ("prospector-stack", "services/stack",
           "the whole stack as local processes: Redis, trainer, evaluator(s), API and the page"),
    "status": ("prospector-stack", "services/stack",
               "one table: every service's health, trainer SPS and window, evaluator lag, API sessions"),
}


class MissingPart(RuntimeError):
    """A subcommand (or bench target) whose part is not installed."""


def missing_part_message(what: str, part: str, folder: str) -> str:
    return (f"`prospector {what}` comes with the {part} part, which is not installed here: "
            f"pip install -e {folder} (from the repository; `make setup` installs every part)")


def require(module: str, what: str, part: str, folder: str) -> None:
    """Raise MissingPart naming the part when `module` (a package of that part) is not importable."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingPart(missing_part_message(what, part, folder))


def installed_commands() -> dict:
    """name -> entry point, for every subcommand an installed part declares."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


# ---- the engine's own subcommand (parity and bench live in prospector_bench) ----------------------


def add_bots(sub) -> None:
    p = sub.add_parser(
        "bots", help=KNOWN["bots"][2],
        description="Greedy miner, cautious scanner, market timer and a random policy, each on the same "
                    "N seeds of the full game: mean and median net profit, survival, profit per tick, "
                    "overheat ticks, pirate encounters.")
    p.add_argument("--episodes", type=int, default=100, help="episodes per bot (default 100)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--with-pretrained", action="store_true",
                   help="add the shipped pretrained PPO agent (models/ppo-pretrained) as two rows: "
                        "ppo_pretrained_sample and ppo_pretrained_argmax")
    p.set_defaults(func=run_bots)


def run_bots(args: argparse.Namespace) -> int:
    from prospector import bots

    return bots.main(args)


# ---- the dispatcher ------------------------------------------------------------------------------


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand named on the line (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser, with the chosen subcommand's real subparser and a one-line entry for the others."""
    parser = argparse.ArgumentParser(prog="prospector", description="Asteroid Belt Prospector tools")
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True
    available = installed_commands()
    chosen = chosen_command(argv)
    for name in list(KNOWN) + sorted(set(available) - set(KNOWN)):
        if name in KNOWN:
            part, folder, help_text = KNOWN[name]
        else:  # a subcommand of a part this table does not know (a plugin)
            part, folder, help_text = None, None, f"from {available[name].value}"
        if name == chosen:
            if name not in available:
                parser.error(missing_part_message(name, part, folder))
            available[name].load()(sub)  # the part adds its real subparser
        elif name in available:
            sub.add_parser(name, help=help_text)
        else:
            sub.add_parser(name, help=f"{help_text} [needs {part}]")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MissingPart as exc:
        print(f"prospector: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        parser.error(str(exc))
    return 2  # pragma: no cover - parser.error exits


if __name__ == "__main__":
    sys.exit(main())
