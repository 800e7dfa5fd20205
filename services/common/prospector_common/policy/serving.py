"""Serving a trained policy without torch: its exact forward pass in numpy.

    export_numpy("runs/RUN/checkpoints/ckpt_7.pt", "models/ppo-pretrained/policy.npz")  # needs torch
    policy = NumpyPolicy.load("models/ppo-pretrained/policy.npz")                        # numpy only
    top, value, entropy, argmax = policy.suggest(observation, mask)

The network is prospector_common.policy.network's: ProspectorMLP (two GELU layers
shared by a linear actor head and a linear critic head) or ProspectorLSTM
(PufferLib's LSTMWrapper: an LSTM cell between the encoder and the heads). The
forward pass here is the same arithmetic in float32, with GELU's exact erf form;
the forbidden actions (cash out, jettison) and, for a policy trained with
action masking, the engine's mask get the logit MASKED_LOGIT (-1e9) exactly as
network.py does, and the mask flags are inputs of the encoder then, as
policy_input builds them; a policy trained with mask_noops (mask_idle) masks the no-op (idle) actions
of noops.py too. A policy trained without masking is served the same
way: the engine's mask then does not change its choice, as it did not in training.

The exported file is one .npz (np.load with allow_pickle=False): the weights
under fixed names, and a JSON header (member `header`, UTF-8 bytes as uint8):
format, format_version, name, kind, hidden_size, action_masking,
forbid_cash_out, forbid_jettison, mask_noops and mask_idle (absent: false), spec_version, and where it came from
(run_id, window_id, env_steps). A policy with a greedy head (greedy.py) also has the arrays greedy.W,
greedy.u, greedy.v and the header's "greedy_head" (memory penalty, how it was fitted). Loading checks the format, the spec version and
every array's shape, and names the file in its error (PolicyFileError).

torch is imported only by export_numpy (the API's image carries no torch).
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prospector import spec

from .greedy import GreedyHead, GreedyHeadError, decide, head_of_checkpoint
from .noops import MASKED_LOGIT, idle_actions, noop_actions

FORMAT = "prospector-policy-numpy"
FORMAT_VERSION = 1
HEADER = "header"
KINDS = ("mlp", "lstm")
_MLP_NAMES = ("enc0.w", "enc0.b", "enc1.w", "enc1.b", "actor.w", "actor.b", "critic.w", "critic.b")
_LSTM_NAMES = ("lstm.w_ih", "lstm.w_hh", "lstm.b_ih", "lstm.b_hh")
# the torch state dict's names for ours (ProspectorMLP; ProspectorLSTM prefixes the MLP's with "policy.")
_TORCH_NAMES = {"enc0.w": "encoder.0.weight", "enc0.b": "encoder.0.bias", "enc1.w": "encoder.2.weight",
                "enc1.b": "encoder.2.bias", "actor.w": "actor.weight", "actor.b": "actor.bias",
                "critic.w": "critic.weight", "critic.b": "critic.bias", "lstm.w_ih": "lstm.weight_ih_l0",
                "lstm.w_hh": "lstm.weight_hh_l0", "lstm.b_ih": "lstm.bias_ih_l0", "lstm.b_hh": "lstm.bias_hh_l0"}


class PolicyFileError(ValueError):
    """An exported policy that is missing, unreadable, of another format or spec version, or whose
    weights have the wrong shapes; the message names the file."""


@dataclass(frozen=True)
class Suggestion:
    """What the policy would do: the k likeliest actions [(action, probability)] best first (after
    the mask and the forbidden actions), the value estimate, the entropy of the action
    distribution (nats) and the likeliest action (what the greedy policy plays)."""

    top: list[tuple[int, float]]
    value: float
    entropy: float
    argmax: int

    def __iter__(self):  # top, value, entropy, argmax = policy.suggest(...)
        return iter((self.top, self.value, self.entropy, self.argmax))


def _erf(x: np.ndarray) -> np.ndarray:
    return _ERF(x.astype(np.float64)).astype(np.float64)


_ERF = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    """torch.nn.GELU() (the exact form): x * (1 + erf(x / sqrt 2)) / 2, in float32."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + _erf(x64 / math.sqrt(2.0)))).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def _shapes(kind: str, hidden: int, in_dim: int) -> dict[str, tuple[int, ...]]:
    shapes = {"enc0.w": (hidden, in_dim), "enc0.b": (hidden,), "enc1.w": (hidden, hidden), "enc1.b": (hidden,),
              "actor.w": (spec.N_ACTIONS, hidden), "actor.b": (spec.N_ACTIONS,), "critic.w": (1, hidden),
              "critic.b": (1,)}
    if kind == "lstm":
        shapes.update({"lstm.w_ih": (4 * hidden, hidden), "lstm.w_hh": (4 * hidden, hidden),
                       "lstm.b_ih": (4 * hidden,), "lstm.b_hh": (4 * hidden,)})
    return shapes


def _forbidden(forbid_cash_out: bool, forbid_jettison: bool) -> np.ndarray:
    """network.forbidden_mask in numpy."""
    m = np.zeros(spec.N_ACTIONS, dtype=bool)
    if forbid_cash_out:
        m[spec.A_CASH_OUT] = True
    if forbid_jettison:
        m[spec.A_JETTISON0:spec.A_JETTISON0 + spec.N_COMMODITIES] = True
    return m


class NumpyPolicy:
    """A policy network's forward pass in numpy (see the module doc)."""

    def __init__(self, header: dict[str, Any], weights: dict[str, np.ndarray], source: str = "<memory>") -> None:
        def bad(why: str) -> PolicyFileError:
            return PolicyFileError(f"policy file {source}: {why}")

        if header.get("format") != FORMAT:
            raise bad(f"not a {FORMAT} file (format {header.get('format')!r})")
        if header.get("format_version") != FORMAT_VERSION:
            raise bad(f"format version {header.get('format_version')!r}, this code reads {FORMAT_VERSION}")
        if header.get("spec_version") != spec.SPEC_VERSION:
            raise bad(f"for spec version {header.get('spec_version')!r}, this engine is version {spec.SPEC_VERSION}")
        kind, hidden = header.get("kind"), header.get("hidden_size")
        if kind not in KINDS:
            raise bad(f"kind must be one of {KINDS}, got {kind!r}")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= 65536:
            raise bad(f"hidden_size must be an integer in 1..65536, got {hidden!r}")
        flags = {}
        for flag in ("action_masking", "forbid_cash_out", "forbid_jettison"):
            if not isinstance(header.get(flag), bool):
                raise bad(f"{flag} must be true or false, got {header.get(flag)!r}")
            flags[flag] = header[flag]
        mask_noops = header.get("mask_noops", False)  # absent in files written before it existed
        if not isinstance(mask_noops, bool):
            raise bad(f"mask_noops must be true or false, got {mask_noops!r}")
        mask_idle = header.get("mask_idle", False)    # likewise
        if not isinstance(mask_idle, bool):
            raise bad(f"mask_idle must be true or false, got {mask_idle!r}")
        name = header.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 200:
            raise bad(f"name must be a string of 1..200 characters, got {name!r}")
        self.header = dict(header)
        self.name, self.kind, self.hidden_size = name, kind, hidden
        self.action_masking = flags["action_masking"]
        self.mask_noops = mask_noops
        self.mask_idle = mask_idle
        self.forbidden = _forbidden(flags["forbid_cash_out"], flags["forbid_jettison"])
        self.in_dim = spec.OBS_DIM + (spec.N_ACTIONS if self.action_masking else 0)
        self.recurrent = kind == "lstm"
        expected = _shapes(kind, hidden, self.in_dim)
        missing = sorted(set(expected) - set(weights))
        if missing:
            raise bad(f"lacks the weights {', '.join(missing)}")
        self.w: dict[str, np.ndarray] = {}
        for key, shape in expected.items():
            array = np.asarray(weights[key])
            if array.shape != shape:
                raise bad(f"{key} has shape {array.shape}, a {kind} of hidden size {hidden} needs {shape}")
            if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
                raise bad(f"{key} must hold finite floats")
            self.w[key] = np.ascontiguousarray(array, dtype=np.float32)
        self.greedy_head: GreedyHead | None = None
        if header.get("greedy_head") is not None:
            try:
                self.greedy_head = GreedyHead.from_file(header["greedy_head"], weights)
            except GreedyHeadError as exc:
                raise bad(str(exc)) from None
        # x @ W.T for a Linear: keep the transposes once
        self._t = {key: np.ascontiguousarray(self.w[key].T) for key in expected if key.endswith((".w", "w_ih", "w_hh"))}

    # ---- files -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyPolicy:
        path = Path(path)
        if not path.is_file():
            raise PolicyFileError(f"policy file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except Exception as exc:  # noqa: BLE001 - zip, header or array errors: not a whole file
            raise PolicyFileError(f"policy file {path} is unreadable ({type(exc).__name__}: {exc})") from None
        raw = arrays.pop(HEADER, None)
        if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
            raise PolicyFileError(f"policy file {path} has no header (not a {FORMAT} file)")
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PolicyFileError(f"policy file {path}: its header is not JSON ({exc})") from None
        if not isinstance(header, dict):
            raise PolicyFileError(f"policy file {path}: its header is not a JSON object")
        return cls(header, arrays, source=str(path))

    def save(self, path: str | os.PathLike) -> Path:
        head = self.greedy_head.file_arrays() if self.greedy_head is not None else {}
        return write_policy_file(path, self.header, {**self.w, **head})

    # ---- the forward pass ----------------------------------------------------------------------

    def initial_state(self, n: int = 1) -> tuple[np.ndarray, np.ndarray] | None:
        """The LSTM's (h, c) at the start of an episode (zeros); None for the MLP."""
        if not self.recurrent:
            return None
        return (np.zeros((n, self.hidden_size), np.float32), np.zeros((n, self.hidden_size), np.float32))

    def forward(self, observations: Any, masks: Any = None,
                state: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
        """(logits [n, 69] float32, value [n] float32, the LSTM's next (h, c) or None) for engine
        observations [n, 260] (or one [260]) and masks [n, 69] (needed by a masking policy; ignored
        otherwise). state: the LSTM's (h, c), zeros when None."""
        obs = np.asarray(observations, dtype=np.float32)
        if obs.ndim == 1:
            obs = obs[None, :]
        if obs.ndim != 2 or obs.shape[1] != spec.OBS_DIM:
            raise ValueError(f"observations must be [n, {spec.OBS_DIM}], got shape {obs.shape}")
        if not np.isfinite(obs).all():
            raise ValueError("observations must be finite")
        x = obs
        mask = None
        if masks is not None or self.action_masking:
            if masks is None:
                raise ValueError("this policy was trained with action masking: it needs the action masks")
            mask = np.asarray(masks, dtype=np.float32)
            if mask.ndim == 1:
                mask = mask[None, :]
            if mask.shape != (obs.shape[0], spec.N_ACTIONS):
                raise ValueError(f"masks must be [{obs.shape[0]}, {spec.N_ACTIONS}], got shape {mask.shape}")
            if self.action_masking:
                x = np.concatenate([obs, mask], axis=1)  # policy_input
        w, t = self.w, self._t
        hidden = gelu(x @ t["enc0.w"] + w["enc0.b"])
        hidden = gelu(hidden @ t["enc1.w"] + w["enc1.b"])
        next_state = None
        if self.recurrent:
            h, c = state if state is not None else self.initial_state(obs.shape[0])
            gates = (hidden @ t["lstm.w_ih"] + w["lstm.b_ih"]) + (np.asarray(h, np.float32) @ t["lstm.w_hh"]
                                                                  + w["lstm.b_hh"])
            i, f, g, o = np.split(gates, 4, axis=1)  # torch.nn.LSTMCell's gate order
            c = _sigmoid(f) * np.asarray(c, np.float32) + _sigmoid(i) * np.tanh(g)
            hidden = _sigmoid(o) * np.tanh(c)
            next_state = (hidden, c)
        logits = hidden @ t["actor.w"] + w["actor.b"]
        if self.forbidden.any():
            logits[:, self.forbidden] = MASKED_LOGIT
        value = (hidden @ t["critic.w"] + w["critic.b"])[:, 0]
        if self.action_masking:
            logits = np.where(mask < 0.5, MASKED_LOGIT, logits).astype(np.float32)
        if self.mask_noops:
            logits[noop_actions(obs)] = MASKED_LOGIT
        if self.mask_idle:
            logits[idle_actions(obs)] = MASKED_LOGIT
        return logits.astype(np.float32), value.astype(np.float32), next_state

    def suggest(self, observation: Any, mask: Any, k: int = 5,
                state: tuple[np.ndarray, np.ndarray] | None = None,
                travel_penalties: np.ndarray | None = None) -> Suggestion:
        """What the policy would do for one observation [260] and its engine mask [69]: the k likeliest
        actions with their probabilities, the value, the entropy and the action it plays (see
        Suggestion). Probabilities and entropy are of the policy's action distribution (actor.explain's).
        The action played is the argmax, or with a greedy head the head's choice, its travel memory's
        penalties given as `travel_penalties` [1, 6] (TravelMemory.penalties; none: no memory)."""
        obs = np.asarray(observation, dtype=np.float32)
        obs = obs[None, :] if obs.ndim == 1 else obs
        logits, value, _ = self.forward(obs, np.asarray(mask)[None, :] if np.ndim(mask) == 1 else mask, state)
        if logits.shape[0] != 1:
            raise ValueError(f"suggest takes one observation, got {logits.shape[0]}")
        suggestion = explain(logits[0], float(value[0]), k)
        if self.greedy_head is not None:
            if travel_penalties is None:
                travel_penalties = np.zeros((1, spec.MAX_NEIGHBORS), np.float32)
            played = decide(logits, obs, self.greedy_head.correction(obs), travel_penalties)
            suggestion = Suggestion(suggestion.top, suggestion.value, suggestion.entropy, int(played[0]))
        return suggestion


def explain(logits: np.ndarray, value: float, k: int = 5) -> Suggestion:
    """Suggestion of one row of logits (actor.explain's arithmetic: log-softmax, probabilities, the
    entropy over the actions of non-zero probability, the top k by probability, ties by index)."""
    z = logits.astype(np.float64)
    z = z - z.max()
    logp = z - math.log(np.exp(z).sum())
    probs = np.exp(logp)
    entropy = float(-(np.where(probs > 0, probs * logp, 0.0)).sum())
    order = np.argsort(-probs, kind="stable")[:max(1, min(k, spec.N_ACTIONS))]
    top = [(int(a), float(probs[a])) for a in order]
    return Suggestion(top=top, value=float(value), entropy=entropy, argmax=int(np.argmax(logits)))


def suggest(policy: NumpyPolicy, observation: Any, mask: Any, k: int = 5) -> Suggestion:
    """policy.suggest(observation, mask, k): (top, value, entropy, argmax)."""
    return policy.suggest(observation, mask, k)


# ---- writing -----------------------------------------------------------------------------------


def make_header(*, name: str, kind: str, hidden_size: int, action_masking: bool, forbid_cash_out: bool,
                forbid_jettison: bool, mask_noops: bool = False, mask_idle: bool = False,
                **source: Any) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "kind": kind,
            "hidden_size": int(hidden_size), "action_masking": bool(action_masking),
            "forbid_cash_out": bool(forbid_cash_out), "forbid_jettison": bool(forbid_jettison),
            "mask_noops": bool(mask_noops), **({"mask_idle": True} if mask_idle else {}),
            "spec_version": spec.SPEC_VERSION, "obs_dim": spec.OBS_DIM, "n_actions": spec.N_ACTIONS, **source}


def write_policy_file(path: str | os.PathLike, header: dict[str, Any], weights: dict[str, np.ndarray]) -> Path:
    """Write an exported policy atomically (checked first: what is written loads)."""
    NumpyPolicy(header, weights, source=str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{HEADER: np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)},
             **{key: np.asarray(value, dtype=np.float32) for key, value in weights.items()})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def random_policy(kind: str = "mlp", hidden_size: int = 128, action_masking: bool = True,
                  forbid_cash_out: bool = True, forbid_jettison: bool = False, seed: int = 0,
                  name: str = "random") -> NumpyPolicy:
    """An untrained policy of the given shape (weights of a plausible scale, from numpy alone): for
    benchmarks and tests that need a model's cost, not its play."""
    rng = np.random.default_rng(seed)
    header = make_header(name=name, kind=kind, hidden_size=hidden_size, action_masking=action_masking,
                         forbid_cash_out=forbid_cash_out, forbid_jettison=forbid_jettison)
    in_dim = spec.OBS_DIM + (spec.N_ACTIONS if action_masking else 0)
    weights = {key: (rng.standard_normal(shape) / math.sqrt(shape[-1])).astype(np.float32)
               for key, shape in _shapes(kind, hidden_size, in_dim).items()}
    return NumpyPolicy(header, weights)


def export_numpy(checkpoint_path: str | os.PathLike, out_path: str | os.PathLike, name: str | None = None) -> Path:
    """Write the policy of a trainer checkpoint (ckpt_{window}.pt, read by policy.checkpoint.load,
    which checks it) as a numpy policy file; returns out_path. Needs torch. name: what the API
    calls the model (default "<run_id> window <window_id>")."""
    from .checkpoint import load  # torch, only here

    data = load(Path(checkpoint_path))
    kwargs = dict(data["policy_kwargs"])
    kind = kwargs.get("kind", "mlp")
    state = data["policy_state_dict"]
    prefix = "policy." if kind == "lstm" else ""
    weights = {}
    for ours, theirs in _TORCH_NAMES.items():
        key = theirs if ours.startswith("lstm.") else prefix + theirs
        if key in state:
            weights[ours] = state[key].detach().cpu().float().numpy()
    header = make_header(
        name=name or f"{data['run_id']} window {data['window_id']}", kind=kind,
        hidden_size=kwargs.get("hidden_size", 128), action_masking=kwargs.get("action_masking", False),
        forbid_cash_out=kwargs.get("forbid_cash_out", False), forbid_jettison=kwargs.get("forbid_jettison", False),
        mask_noops=kwargs.get("mask_noops", False), mask_idle=kwargs.get("mask_idle", False),
        run_id=data["run_id"], window_id=int(data["window_id"]), env_steps=int(data["env_steps"]))
    try:
        head = head_of_checkpoint(data)
    except GreedyHeadError as exc:
        raise PolicyFileError(f"checkpoint {checkpoint_path}: {exc}") from None
    if head is not None:
        header["greedy_head"] = head.file_header()
        weights.update(head.file_arrays())
    try:
        return write_policy_file(out_path, header, weights)
    except PolicyFileError as exc:
        raise PolicyFileError(f"checkpoint {checkpoint_path} does not export: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    """python -m prospector_common.policy.serving CHECKPOINT OUT [--name NAME]: export_numpy."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m prospector_common.policy.serving",
                                description="Export a trainer checkpoint (ckpt_N.pt) as a numpy policy file "
                                            "for the API's suggestions (needs torch).")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path, help="e.g. models/ppo-pretrained/policy.npz")
    p.add_argument("--name", default=None, help="the model's name in the API (default: '<run_id> window <n>')")
    args = p.parse_args(argv)
    try:
        out = export_numpy(args.checkpoint, args.out, args.name)
    except (PolicyFileError, RuntimeError) as exc:  # CheckpointError is a RuntimeError
        p.exit(1, f"error: {exc}\n")
    policy = NumpyPolicy.load(out)
    print(f"wrote {out}: {policy.name!r}, {policy.kind}, hidden size {policy.hidden_size}, "
          f"action masking {policy.action_masking}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
