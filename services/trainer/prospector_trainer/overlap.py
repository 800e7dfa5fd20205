"""Collection and learning on two cores at once (`ppo.overlap = true`).

PuffeRL alternates: evaluate() steps the games and fills the rollout buffers,
then train() learns from them. With one engine thread and one torch thread,
one core waits while the other works. Overlapped, the next batch is collected
on a second thread while the learner trains on this one:

    epoch k:   [collect k+1 with the weights W_k]   (background thread)
               [train on batch k: W_k -> W_k+1]     (this thread)

so every batch is collected by the weights of one update before the ones that
learn from it. PPO's ratio is taken against the stored log-probabilities of
the acting weights, and PuffeRL's V-trace clips it, so that one-update lag is
the usual price of asynchronous PPO.

How, without a second copy of PuffeRL's code: the background thread runs
PuffeRL's own evaluate() on a `_Collector`, an object that has every attribute
evaluate() reads or writes: the shared vecenv, a second set of rollout
buffers, its own episode bookkeeping, its own profile and stats, and a copy of
the policy that the learner does not touch. When a batch is ready its buffers
are swapped with the learner's (no copy) and its step count and stats are
handed over.

The env is only touched by one thread at a time: the trainer joins the
collector before it reads the episode log or changes the env config, and it
starts no background batch across a window boundary (the next window starts
with one ordinary, serial evaluate()).
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict

import torch

# PuffeRL's rollout buffers that evaluate() fills and train() reads
BUFFERS = ("observations", "actions", "logprobs", "rewards", "terminals", "values")


class _Collector:
    """Everything PuffeRL.evaluate() touches, apart from the learner's."""

    def __init__(self, learner, acting_policy):
        self.config = learner.config
        self.vecenv = learner.vecenv
        self.segments = learner.segments
        self.total_agents = learner.total_agents
        self.amp_context = learner.amp_context
        self.policy = acting_policy
        self.profile = type(learner.profile)(frequency=learner.profile.frequency)
        for name in BUFFERS:
            setattr(self, name, torch.empty_like(getattr(learner, name)))
        self.ep_lengths = torch.zeros_like(learner.ep_lengths)
        self.ep_indices = torch.arange(self.total_agents, device=learner.ep_indices.device, dtype=torch.int32)
        self.free_idx = self.total_agents
        self.full_rows = 0
        self.epoch = 0
        self.global_step = 0
        self.stats = defaultdict(list)


class BackgroundCollector:
    """Collects PuffeRL's next batch on its own thread while the learner trains.

        collector = BackgroundCollector(pufferl, policy)
        collector.start()      # the learner's current weights act
        pufferl.train()        # meanwhile: learn from the batch already in the buffers
        collector.finish()     # the new batch is now in pufferl's buffers
    """

    def __init__(self, pufferl, policy: torch.nn.Module):
        if pufferl.config["use_rnn"]:
            raise ValueError("ppo.overlap works with the mlp policy only: PuffeRL keeps the LSTM state "
                             "of the games it is stepping in the learner")
        self.pufferl = pufferl
        self.policy = policy  # the learner's (unwrapped) policy, whose weights the collector copies
        self.acting_policy = copy.deepcopy(policy).requires_grad_(False)
        self.collector = _Collector(pufferl, self.acting_policy)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Begins the next batch with the learner's weights as they are now."""
        if self.busy:
            raise RuntimeError("a batch is already being collected")
        self.acting_policy.load_state_dict(self.policy.state_dict())
        c = self.collector
        c.epoch = self.pufferl.epoch  # PuffeRL's profile samples every 5th epoch
        c.global_step = 0
        c.stats = defaultdict(list)
        self._error = None
        self._thread = threading.Thread(target=self._collect, name="prospector-collect", daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        try:
            type(self.pufferl).evaluate(self.collector)
        except BaseException as e:  # re-raised in the trainer's thread by finish()
            self._error = e

    def finish(self) -> int:
        """Waits for the batch, swaps it into the learner's buffers; returns its env steps."""
        if not self.busy:
            raise RuntimeError("no batch is being collected")
        self._thread.join()
        self._thread = None
        if self._error is not None:
            raise self._error
        p, c = self.pufferl, self.collector
        for name in BUFFERS:
            mine, theirs = getattr(c, name), getattr(p, name)
            setattr(p, name, mine)
            setattr(c, name, theirs)
        p.global_step += c.global_step
        for key, values in c.stats.items():
            p.stats[key].extend(values)
        for name, timing in c.profile:  # its env / eval_forward time, for the profile's split
            p.profile.profiles[name]["elapsed"] += timing["elapsed"]
            timing["elapsed"] = 0.0
        return c.global_step

    def close(self) -> None:
        """Lets a batch in flight finish (the env must not be closed under it)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def collect(pufferl, collector: BackgroundCollector | None) -> None:
    """This epoch's batch into the learner's buffers: the one collected in the background
    while the learner trained on the previous batch, or else one collected now."""
    if collector is not None and collector.busy:
        collector.finish()
    else:
        pufferl.evaluate()
