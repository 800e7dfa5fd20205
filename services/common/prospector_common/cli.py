"""`prospector replay verify FILE`: the replay format's own command (entry point: add_replay)."""

from __future__ import annotations

import argparse
import json
import sys


def add_replay(sub) -> None:
    p = sub.add_parser("replay", help="replay files: verify")
    actions = p.add_subparsers(dest="replay_action", metavar="action")
    actions.required = True
    verify = actions.add_parser(
        "verify", help="re-simulate a replay from its seed, config and actions; check every frame",
        description="Re-simulate the replay with the engine from its seed, env config and action list and "
                    "check that every frame matches exactly. Exit code 1 naming the first differing frame.")
    add_replay_verify_arguments(verify)
    verify.set_defaults(func=replay_verify_main)


def add_replay_verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a replay file (.jsonl.gz)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def replay_verify_main(args: argparse.Namespace) -> int:
    from .replay import ReplayFormatError, verify

    try:
        result = verify(args.file)
    except ReplayFormatError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        else:
            print(f"replay verify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"file": args.file, **result.to_dict()}, default=str))
    elif result.ok:
        print(f"ok: {args.file}: {result.frames_checked} frames re-simulated, every frame matches")
    else:
        m = result.mismatch or {}
        print(f"MISMATCH: {args.file}: frame {m.get('frame')} field {m.get('field')}: recorded "
              f"{m.get('recorded')!r}, re-simulated {m.get('replayed')!r} "
              f"({result.frames_checked} of {result.length} frames matched before it)")
    return 0 if result.ok else 1
