"""`prospector replay verify FILE` and `prospector replay video FILE -o out.gif`: the
replay format's own commands (entry point: add_replay)."""

from __future__ import annotations

import argparse
import json
import sys


def add_replay(sub) -> None:
    p = sub.add_parser("replay", help="replay files: verify, video")
    actions = p.add_subparsers(dest="replay_action", metavar="action")
    actions.required = True
    verify = actions.add_parser(
        "verify", help="re-simulate a replay from its seed, config and actions; check every frame",
        description="Re-simulate the replay with the engine from its seed, env config and action list and "
                    "check that every frame matches exactly. Exit code 1 naming the first differing frame.")
    add_replay_verify_arguments(verify)
    verify.set_defaults(func=replay_verify_main)
    video = actions.add_parser(
        "video", help="draw a replay frame by frame into an animated GIF",
        description="Draw the state after reset and after every step of a replay with the engine's "
                    "prospector.render (sector map, gauges, cargo, market, field view) and write an "
                    "animated GIF (prospector.gif: numpy only, no imaging library).")
    add_replay_video_arguments(video)
    video.set_defaults(func=replay_video_main)


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


def add_replay_video_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a replay file (.jsonl.gz)")
    p.add_argument("-o", "--output", required=True, help="the GIF file to write")
    p.add_argument("--fps", type=float, default=4.0, help="frames per second (default 4)")
    p.add_argument("--every", type=int, default=1, help="draw every k-th step (default 1: all)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def replay_video_main(args: argparse.Namespace) -> int:
    from prospector.gif import write_gif
    from prospector.render import HEIGHT, WIDTH, render_rgb

    from .replay import ReplayFormatError, iter_frames, read_header

    if args.every < 1 or (args.max_frames is not None and args.max_frames < 1) or not args.fps > 0:
        print("replay video: --every and --max-frames must be >= 1, --fps > 0", file=sys.stderr)
        return 2
    count = 0

    def states():
        yield read_header(args.file)["initial_state"]  # the state after reset, then after the steps
        for frame in iter_frames(args.file):
            if (frame["index"] + 1) % args.every == 0 or frame["state"].get("done"):
                yield frame["state"]

    def frames():
        nonlocal count
        for state in states():
            if args.max_frames is not None and count >= args.max_frames:
                return
            count += 1
            yield render_rgb(state)

    try:
        size = write_gif(args.output, frames(), fps=args.fps)
    except ReplayFormatError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        else:
            print(f"replay video: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"ok": True, "file": args.file, "output": args.output, "frames": count,
                          "width": WIDTH, "height": HEIGHT, "bytes": size, "fps": args.fps}))
    else:
        print(f"wrote {args.output}: {count} frames of {WIDTH}x{HEIGHT} at {args.fps:g} fps, {size} bytes")
    return 0
