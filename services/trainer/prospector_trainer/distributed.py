"""Data-parallel training under torchrun: the one home for ranks, the world and DDP.

    torchrun --nproc-per-node N -m prospector_trainer train --config ...

starts N processes; torchrun sets LOCAL_RANK, RANK, WORLD_SIZE and the rendezvous
address in each one's environment. Like PuffeRL's own `train`, every rank then has

- its own vector env (vec.num_envs games per rank, seeds offset by rank: `env_seed`),
- its own PuffeRL over the policy wrapped in DistributedDataParallel, so every
  backward pass all-reduces the gradients and the ranks' weights stay equal,

and only rank 0 (`World.is_main`) does the run's duties: the run id (shared with
`from_main`), run.json, checkpoints, metrics rows, catalog, W&B, Redis, and the gRPC
and Prometheus ports. Without LOCAL_RANK nothing here starts: `World()` is one rank.

Every rank steps exactly batch_size env steps per epoch, so the run's env steps are
the rank's steps times world_size on every rank, without talking: windows end at
the same epoch everywhere (a rank running an extra epoch would hang in DDP's
all-reduce). The collectives below are called by every rank in the same order.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from .episode_stats import EpisodeLog


# A rank's vecenv seed is the run's seed + rank * this: clear of the +1 per window a resumed
# run adds, so no two ranks (or resumes) start their games from the same seeds.
RANK_SEED_STRIDE = 1_000_000


def launched_by_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank `rank` of `size`."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    def env_seed(self, seed: int) -> int:
        return seed + self.rank * RANK_SEED_STRIDE

    def device(self, device: str) -> str:
        """The torch device of this rank: its own GPU (cuda:LOCAL_RANK) when the run's is cuda."""
        if device.startswith("cuda") and self.is_distributed:
            return f"cuda:{self.local_rank}"
        return device

    # ---- collectives (every rank calls them, in the same order) ------------------------

    def from_main(self, value):
        """Rank 0's `value` on every rank (any picklable object)."""
        if not self.is_distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, values) -> np.ndarray:
        """Element-wise sum over the ranks of a number or a float array."""
        a = np.asarray(values, dtype=np.float64)
        if not self.is_distributed:
            return a
        t = torch.from_numpy(a.copy()).to(_collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().numpy()

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over the ranks of each value (every rank has the same keys)."""
        if not self.is_distributed:
            return values
        keys = sorted(values)
        means = self.sum([values[k] for k in keys]) / self.size
        return {k: float(v) for k, v in zip(keys, means)}

    def gather(self, value) -> list:
        """Every rank's `value` (any picklable object), in rank order."""
        if not self.is_distributed:
            return [value]
        out = [None] * self.size
        dist.all_gather_object(out, value)
        return out


def merge_episode_logs(episodes: EpisodeLog, world: World) -> EpisodeLog:
    """The episodes every rank finished in the window: counts and sums all-reduced (exact
    means), every rank's recent records gathered (medians over all ranks' episodes)."""
    if not world.is_distributed:
        return episodes
    total = world.sum(np.concatenate([[episodes.count], episodes.sums]))
    merged = EpisodeLog()
    merged.count = int(total[0])
    merged.sums = total[1:]
    merged.records = [r for records in world.gather(episodes.records) for r in records]
    return merged


def current() -> World:
    """The world of this process: one rank unless the process group is up (`init`)."""
    if not dist.is_available() or not dist.is_initialized():
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def backend(device: str) -> str:
    """NCCL between GPUs, gloo between CPUs."""
    return "nccl" if device.startswith("cuda") else "gloo"


def init(device: str) -> World:
    """Joins the torchrun process group (from the environment torchrun sets)."""
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)  # NCCL and the object collectives use the current device
    dist.init_process_group(backend=backend(device))
    return current()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


# ---- the policy ------------------------------------------------------------------------------

def wrap(policy: torch.nn.Module, world: World, device: str) -> torch.nn.Module:
    """The policy as PuffeRL should see it: DDP-wrapped when there are several ranks.

    DDP copies rank 0's weights to every rank here, and all-reduces gradients in
    every backward. PuffeRL collects experience through forward_eval (no gradients,
    so DDP's forward is not needed there) and reads hidden_size for the LSTM."""
    if not world.is_distributed:
        return policy
    policy = policy.to(device)
    if device.startswith("cuda"):
        ddp = torch.nn.parallel.DistributedDataParallel(policy, device_ids=[world.local_rank],
                                                        output_device=world.local_rank)
    else:
        ddp = torch.nn.parallel.DistributedDataParallel(policy)
    ddp.forward_eval = policy.forward_eval
    ddp.hidden_size = policy.hidden_size
    return ddp


def unwrap(policy: torch.nn.Module) -> torch.nn.Module:
    """The plain policy under DDP (its state dict has no "module." prefix)."""
    return policy.module if isinstance(policy, torch.nn.parallel.DistributedDataParallel) else policy


def parameter_digest(state_dict: dict) -> str:
    """A short hash of a policy's weights: equal on all ranks while DDP keeps them in sync."""
    h = hashlib.sha256()
    for name, tensor in state_dict.items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
