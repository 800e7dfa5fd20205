"""The pretrained model shipped in the repository: where it lives, what its card says, and
whether the files are the ones the card describes.

    models/ppo-pretrained/
        policy.pt       the trainer checkpoint of the chosen window (policy/checkpoint.py)
        policy.npz      the same weights for the numpy forward pass (policy/serving.py; no torch)
        windows.jsonl   the training run's window rows up to the shipped window
        card.json       config, code version, env steps, wall time, curve, held-out table, sha256s
        MODEL_CARD.md   the card for people (written from card.json)
        curve.svg       the training curve

`prospector bench learn --ship models/ppo-pretrained` writes it (write_package); the API
serves suggestions from policy.npz, `prospector bots --with-pretrained` plays it, and the
stack registers it as a run of its own. Nothing here imports torch at module level.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from prospector_common.storage import atomic_write_text, read_jsonl

MODEL_NAME = "ppo-pretrained"
CARD_FORMAT = "prospector-model-card"
CARD_VERSION = 1
FILES = ("policy.pt", "policy.npz")


class ModelError(RuntimeError):
    """A model directory that is missing, incomplete, or whose files do not match its card."""


def _candidates() -> list[Path]:
    here = Path(__file__).resolve()
    found = [Path.cwd() / "models" / MODEL_NAME, Path("/app/models") / MODEL_NAME]
    for parent in here.parents:  # an editable install: the repository around the package
        if (parent / "models" / MODEL_NAME).is_dir():
            found.insert(0, parent / "models" / MODEL_NAME)
            break
    return found


def default_model_dir() -> Path | None:
    """$PROSPECTOR_MODEL_DIR, else the repository's models/ppo-pretrained (or the image's
    /app/models/ppo-pretrained); None when there is none, or when $PROSPECTOR_MODEL_DIR names a
    path that does not exist (PROSPECTOR_MODEL_DIR=none turns the pretrained model off)."""
    env = os.environ.get("PROSPECTOR_MODEL_DIR")
    if env:  # "none" (or any path that is not there): no pretrained model, on purpose
        return Path(env) if Path(env).exists() else None
    return next((p for p in _candidates() if (p / "card.json").is_file()), None)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_card(model_dir: Path) -> dict:
    path = Path(model_dir) / "card.json"
    if not path.is_file():
        raise ModelError(f"no model card at {path}")
    try:
        card = json.loads(path.read_text())
    except ValueError as e:
        raise ModelError(f"model card {path} is not JSON ({e})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelError(f"{path} is not a prospector model card")
    return card


def verify(model_dir: Path) -> dict:
    """The card, after checking that every file it lists is there with the sha256 it records."""
    model_dir = Path(model_dir)
    card = load_card(model_dir)
    for name, digest in card.get("sha256", {}).items():
        path = model_dir / name
        if not path.is_file():
            raise ModelError(f"model file {path} is missing")
        actual = sha256_file(path)
        if actual != digest:
            raise ModelError(f"model file {path} has sha256 {actual[:12]}…, its card says {digest[:12]}…")
    missing = [f for f in FILES if f not in card.get("sha256", {})]
    if missing:
        raise ModelError(f"model card {model_dir / 'card.json'} lists no hash for {', '.join(missing)}")
    return card


# ---- writing the package (bench learn --ship) ---------------------------------------------------

def checkpoint_rows(checkpoint: Path) -> list[dict]:
    """The window rows of the run that wrote `checkpoint` (runs/<run>/checkpoints/ckpt_N.pt), up
    to and including window N."""
    checkpoint = Path(checkpoint).resolve()
    window = int(checkpoint.stem.split("_")[-1])
    rows = read_jsonl(checkpoint.parent.parent / "metrics" / "windows.jsonl")
    return [r for r in rows if r.get("window_id", -1) <= window]


def is_package_checkpoint(out_dir: Path, checkpoint: Path) -> bool:
    """Whether `checkpoint` is the package's own policy.pt (a package written again from itself)."""
    own = Path(out_dir) / "policy.pt"
    return own.is_file() and Path(checkpoint).is_file() and os.path.samefile(checkpoint, own)


def write_package(out_dir: Path, checkpoint: Path, learn_result: dict, command: str) -> dict:
    """Copies the checkpoint, exports its numpy twin, and writes card.json, curve.svg and
    MODEL_CARD.md from a `bench learn` result; returns the card.

    `checkpoint` may be the package's own policy.pt (re-evaluated, e.g. after its greedy head was
    fitted): its run's window rows, training record and training command are then kept from the
    package's card."""
    from .checkpoint import load
    from .serving import export_numpy

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load(Path(checkpoint))
    previous = None
    if is_package_checkpoint(out_dir, checkpoint):
        previous = load_card(out_dir)
    else:
        shutil.copyfile(checkpoint, out_dir / "policy.pt")
        # the training run's window rows up to this one: the stack shows them as the run's charts
        atomic_write_text(out_dir / "windows.jsonl",
                          "".join(json.dumps(r) + "\n" for r in checkpoint_rows(checkpoint)))
    export_numpy(out_dir / "policy.pt", out_dir / "policy.npz", name=MODEL_NAME)
    training = (learn_result.get("training") or learn_result.get("training_of_checkpoint")
                or (previous or {}).get("training") or {})
    card = {
        "format": CARD_FORMAT, "format_version": CARD_VERSION, "name": MODEL_NAME,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "run_id": data["run_id"], "window_id": int(data["window_id"]), "env_steps": int(data["env_steps"]),
        "spec_version": data["spec_version"], "code_version": data["run_id"].split("-")[2],
        "config": data["config"], "policy_kwargs": data["policy_kwargs"],
        "training": {k: training.get(k) for k in ("env_steps", "seconds", "sps", "curve") if k in training},
        "evaluation": {k: learn_result[k] for k in ("seeds", "eval_env", "env_config", "table", "ranking",
                                                    "best_bot", "ratios") if k in learn_result},
        **({"greedy_head": data["greedy_head"].get("fitted", {})} if data.get("greedy_head") else {}),
        **({"training_command": previous.get("training_command") or previous.get("command")} if previous else {}),
        "sha256": {name: sha256_file(out_dir / name) for name in (*FILES, "windows.jsonl")},
    }
    for name in FILES:  # the export is written private; the images' non-root services read it
        (out_dir / name).chmod(0o644)
    (out_dir / "curve.svg").write_text(curve_svg(card["training"].get("curve") or []))
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / "MODEL_CARD.md").write_text(card_markdown(card))
    return card


def curve_svg(curve: list[dict], width: int = 640, height: int = 240) -> str:
    """Mean net profit per window against env steps, as a small stand-alone SVG."""
    points = [(float(w["env_steps_total"]), float(w["net_profit_mean"])) for w in curve
              if w.get("net_profit_mean") is not None]
    pad = 40
    if not points:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>\n'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = 0.0, max(xs) or 1.0
    y0, y1 = min(0.0, min(ys)), max(ys) if max(ys) > min(0.0, min(ys)) else 1.0

    def sx(x: float) -> float:
        return pad + (x - x0) / (x1 - x0) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{pad}" y1="{sy(0):.1f}" x2="{width - pad}" y2="{sy(0):.1f}" stroke="#bbb"/>',
        f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="2"/>',
        f'<text x="{pad}" y="14">mean net profit per training episode (window means)</text>',
        f'<text x="{pad}" y="{height - 8}">0</text>',
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">{x1 / 1e6:.0f}M env steps</text>',
        f'<text x="4" y="{sy(y1) + 4:.1f}">{y1:,.0f}</text>',
        f'<text x="4" y="{sy(0) + 4:.1f}">0</text>',
        "</svg>", ""])


def card_markdown(card: dict) -> str:
    ev = card.get("evaluation", {})
    tr = card.get("training", {})
    rows = ["| policy | net profit mean | median | survival | stranded | destroyed |",
            "|---|---|---|---|---|---|"]
    for name in ev.get("ranking", []):
        s = ev["table"][name]
        rows.append(f"| {name} | {s['net_profit_mean']:,.0f} | {s['net_profit_median']:,.0f} | "
                    f"{s['survival_mean']:.2f} | {s['stranded_mean']:.2f} | {s['destroyed_mean']:.2f} |")
    minutes = f"{tr['seconds'] / 60:.1f} min" if tr.get("seconds") else "not recorded"
    lines = [
        f"# Model card: {card['name']}",
        "",
        "PPO (PufferLib's PuffeRL) on Asteroid Belt Prospector, trained from scratch by the command below.",
        "",
        *([f"- **Trained by**: `{card['training_command']}`"] if card.get("training_command") else []),
        f"- **Command**: `{card['command']}`",
        f"- **Run**: `{card['run_id']}`, window {card['window_id']} (code version `{card['code_version']}`, "
        f"spec {card['spec_version']})",
        f"- **Env steps**: {card['env_steps']:,}; **wall time**: {minutes}"
        + (f"; {tr['sps']:,.0f} env steps/s" if tr.get("sps") else ""),
        f"- **Policy**: {card['policy_kwargs']}",
        *([f"- **Greedy head** (how `ppo_argmax` plays: the logits plus a fitted correction, a travel memory, "
           f"the idle actions masked; `ppo_argmax_plain` is the bare argmax): "
           f"{len(card['greedy_head'].get('population_net_profit_mean', []))} generations of evolution strategies "
           f"on calibration seeds {card['greedy_head'].get('calibration_seeds', '?')}, "
           f"{(card['greedy_head'].get('seconds') or 0) / 60:.1f} min"] if card.get("greedy_head") else []),
        f"- **Files** (sha256): " + ", ".join(f"`{k}` {v[:16]}…" for k, v in card["sha256"].items()),
        "",
        "## Training curve",
        "",
        "![training curve](curve.svg)",
        "",
        f"## Evaluation: held-out seeds {ev.get('seeds', '?')} ({ev.get('eval_env', '?')} game), "
        "bots on the same seeds",
        "",
        *rows,
        "",
        "The held-out seeds were used for this table only: no training, tuning or checkpoint choice saw them "
        "(services/trainer/LEARNING.md).",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(card["config"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


# ---- playing it (prospector bots --with-pretrained) ---------------------------------------------

class NumpyPlayer:
    """The exported policy as a rollout BatchAgent (prospector.rollout.play_batch): batched,
    sampling or argmax, numpy only. Greedy play of a policy with a greedy head is the head's
    (its correction and travel memory, policy/greedy.py)."""

    def __init__(self, policy, greedy: bool, seed: int = 0):
        import numpy as np

        self.policy = policy
        self.greedy = greedy
        self.rng = np.random.default_rng(seed)
        self.state = None
        self.decoder = None

    def start(self, n: int) -> None:
        from .greedy import GreedyDecoder

        self.state = self.policy.initial_state(n)
        if self.greedy and self.policy.greedy_head is not None:
            self.decoder = GreedyDecoder(self.policy.greedy_head, n)

    def act(self, observations, masks, rows=None):
        import numpy as np

        state = self.state
        if state is not None and rows is not None:
            state = (state[0][rows], state[1][rows])
        logits, _, next_state = self.policy.forward(observations, masks, state)
        if next_state is not None:
            if rows is None:
                self.state = next_state
            else:
                self.state[0][rows], self.state[1][rows] = next_state
        if self.decoder is not None:
            if rows is not None:
                raise ValueError("greedy play by a greedy head acts on all the rows at once")
            return self.decoder.choose(logits, observations)
        if self.greedy:
            return logits.argmax(axis=1).astype(np.int32)
        z = logits.astype(np.float64)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        u = self.rng.random((p.shape[0], 1))
        return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1).astype(np.int32)

    def episodes_ended(self, rows) -> None:
        if self.decoder is not None:
            self.decoder.episodes_ended(rows)
        if self.state is not None:
            self.state[0][rows] = 0.0
            self.state[1][rows] = 0.0


def bots_rows(episodes: int, seed0: int, config=None, model_dir: Path | None = None) -> dict:
    """`prospector bots --with-pretrained`: ppo_pretrained_sample and ppo_pretrained_argmax (greedy:
    by the model's greedy head when it has one), the shipped model on the bots' seeds, with the
    bots' row keys."""
    from prospector.bots import summarize
    from prospector.engine import Batch
    from prospector.rollout import play_batch

    from .serving import NumpyPolicy

    model_dir = model_dir or default_model_dir()
    if model_dir is None:
        raise ModelError("no pretrained model: models/ppo-pretrained is not there and $PROSPECTOR_MODEL_DIR is unset")
    verify(model_dir)
    policy = NumpyPolicy.load(Path(model_dir) / "policy.npz")
    seeds = list(range(seed0, seed0 + episodes))
    rows = {}
    for name, greedy in (("ppo_pretrained_sample", False), ("ppo_pretrained_argmax", True)):
        with Batch(len(seeds), config) as batch:
            rows[name] = summarize(play_batch(NumpyPlayer(policy, greedy, seed=seed0), batch, seeds))
    return rows
