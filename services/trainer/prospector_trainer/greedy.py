"""Greedy rows (`ppo.greedy_envs`): some training games are played by the argmax policy.

PPO only ever samples, so nothing in training sees what the greedy policy does
in the states where the policy is unsure: there the sampled mix of a dozen
near-equal actions works, and argmax repeats the likeliest one forever
(LEARNING.md, E9-E11). With greedy rows, the first `n` games of every batch
take the argmax action instead of a sampled one. Their log-probability is the
acting policy's own for that action, so PPO's clipped ratio treats the step as
any other: an argmax action whose return falls short of the value estimate
(a loop that ends stranded) is pushed down until another action is the argmax,
one that pays is pushed up. The estimate is biased (those actions were not
drawn from the policy), which the clip bounds, as it bounds the lag of
`ppo.overlap`.

Deterministic rows alone never try anything else, so a loop that pays nothing
(LISTEN over and over, E13a) is self-consistent: the value estimate of its
states learns the loop's own return and the looping action's advantage goes to
zero. With `epsilon`, each greedy row keeps its sampled action on a fraction of
its steps, so the alternatives are tried from the states greedy play reaches.

PuffeRL samples inside evaluate() with `pufferlib.pytorch.sample_logits`;
`sampling_with_greedy_rows(n)` swaps it for the length of one evaluate() on
this thread. Learning calls it with the batch's actions, which pass through
untouched.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pufferlib.pytorch
import torch

_sample_logits = pufferlib.pytorch.sample_logits
_local = threading.local()


def sample_logits(logits, action=None):
    """pufferlib.pytorch.sample_logits, with this thread's greedy rows taking the argmax."""
    sampled, logprob, entropy = _sample_logits(logits, action)
    n = getattr(_local, "rows", 0)
    if action is not None or not n or not isinstance(logits, torch.Tensor):
        return sampled, logprob, entropy
    return (*greedy_rows(logits, sampled, logprob, n, getattr(_local, "epsilon", 0.0)), entropy)


def greedy_rows(logits: torch.Tensor, sampled: torch.Tensor, logprob: torch.Tensor,
                n: int, epsilon: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(actions, log-probabilities) with the first n rows replaced by the argmax action and its
    log-probability under `logits` ([B, actions]; masked actions at -inf never win), except on a
    random `epsilon` of them, which keep their sampled action."""
    n = min(n, logits.shape[0])
    head = logits[:n]
    best = head.argmax(dim=-1)
    if epsilon > 0:
        keep = torch.rand(n) < epsilon
        best = torch.where(keep, sampled[:n].to(best.dtype), best)
    sampled, logprob = sampled.clone(), logprob.clone()
    sampled[:n] = best.to(sampled.dtype)
    logprob[:n] = torch.log_softmax(head.float(), dim=-1).gather(-1, best[:, None]).squeeze(-1).to(logprob.dtype)
    return sampled, logprob


pufferlib.pytorch.sample_logits = sample_logits  # PuffeRL looks it up at every call


@contextlib.contextmanager
def sampling_with_greedy_rows(n: int, epsilon: float = 0.0) -> Iterator[None]:
    """Within: this thread's PuffeRL collection plays its first n games greedily (but for a random
    `epsilon` of their steps)."""
    before = getattr(_local, "rows", 0), getattr(_local, "epsilon", 0.0)
    _local.rows, _local.epsilon = n, epsilon
    try:
        yield
    finally:
        _local.rows, _local.epsilon = before
