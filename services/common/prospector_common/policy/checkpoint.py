"""Checkpoints: one torch file per window, written atomically, read back with clear errors.

The trainer writes them; the evaluator (and anything else that plays a policy)
reads them with load_policy.

ckpt_{window_id}.pt holds run_id, window_id, env_steps, epoch, spec_version,
config (TrainConfig.to_dict()), policy_kwargs, policy_state_dict,
optimizer_state_dict, scheduler_state_dict, torch_rng_state, the window's
metrics row and world_size (the torchrun ranks that trained it; 1 if absent).
policy_state_dict is always the plain policy's, never DDP's wrapper. It is loaded with torch.load(weights_only=True): plain data and
tensors only, no pickled code.
"""

from __future__ import annotations

from pathlib import Path

import torch

from prospector import spec

from prospector_common.storage import RunPaths, atomic_open

FORMAT = "prospector-trainer-checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("run_id", "window_id", "env_steps", "epoch", "spec_version", "config", "policy_kwargs",
            "policy_state_dict", "optimizer_state_dict", "scheduler_state_dict")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, truncated, corrupt or not ours; the message names the file."""


def save(path: Path, payload: dict) -> None:
    """Write `payload` stamped with this code's format: a loaded checkpoint's data saves again as is
    (its own stamp is replaced), e.g. with a greedy head added."""
    data = {**payload, "format": FORMAT, "format_version": FORMAT_VERSION}
    with atomic_open(path, "wb") as f:
        torch.save(data, f)


def load(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip reader, unpickler, EOF: all mean the bytes are not a whole checkpoint
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a prospector trainer checkpoint")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    if data["spec_version"] != spec.SPEC_VERSION:
        raise CheckpointError(f"checkpoint {path} is for spec version {data['spec_version']}, "
                              f"this engine is version {spec.SPEC_VERSION}")
    return data


def load_latest(paths: RunPaths) -> dict:
    """The checkpoint of the run's highest window id (its errors name the file)."""
    if not paths.run_dir.is_dir():
        raise CheckpointError(f"no run {paths.run_id} in {paths.data_dir}")
    ids = paths.checkpoint_window_ids()
    if not ids:
        raise CheckpointError(f"run {paths.run_id} has no checkpoint in {paths.checkpoints_dir}")
    path = paths.checkpoint(ids[-1])
    data = load(path)
    if data["window_id"] != ids[-1] or data["run_id"] != paths.run_id:
        raise CheckpointError(f"checkpoint {path} holds window {data['window_id']} of run {data['run_id']}, "
                              f"not window {ids[-1]} of run {paths.run_id}")
    return data


def load_policy(path: Path):
    """(policy with the checkpoint's weights, checkpoint dict); for evaluation and tests."""
    from .network import make_policy

    data = load(path)
    policy = make_policy(**data["policy_kwargs"])
    policy.load_state_dict(data["policy_state_dict"])
    return policy, data
