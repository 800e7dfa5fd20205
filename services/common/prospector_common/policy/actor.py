"""Acting with a trained policy outside PuffeRL: a rollout.BatchAgent over the torch network.

    actor = Actor(policy, action_masking, greedy=False, seed=7)
    metrics = play_batch(actor, Batch(n, config), seeds)         # prospector.rollout
    metrics = run_episode(SingleGame(actor), Engine(config), 7)
    actor = Actor(policy, action_masking, greedy_head=head)      # greedy play by the policy's head (greedy.py)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from pufferlib.models import LSTMWrapper

from .greedy import GreedyDecoder, GreedyHead
from .network import policy_input


class Actor:
    """Plays a trained policy outside PuffeRL (evaluation): batched, greedy or sampled.

    act(obs [n, 260], masks [n, 69]) -> actions [n]; for the LSTM it keeps one
    recurrent state per row (episodes_ended(rows) zeroes it; pass `rows` to act
    on a subset of the rows). With a greedy head it plays greedily by the head (its
    correction and a travel memory per row, which episodes_ended clears), for all rows at once."""

    def __init__(self, policy: torch.nn.Module, action_masking: bool, greedy: bool = True, seed: int = 0,
                 greedy_head: GreedyHead | None = None):
        self.policy = policy.eval()
        self.action_masking = action_masking
        self.greedy = greedy or greedy_head is not None
        self.greedy_head = greedy_head
        self.decoder: GreedyDecoder | None = None
        self.recurrent = isinstance(policy, LSTMWrapper)
        self.generator = torch.Generator().manual_seed(seed)
        self.h = self.c = None
        self.explain = False             # keep `last_policy` (top actions, value, entropy) on every act()
        self.explain_top = 5
        self.last_policy: list[dict] | None = None

    def start(self, n: int) -> None:
        if self.greedy_head is not None:
            self.decoder = GreedyDecoder(self.greedy_head, n)
        if self.recurrent:
            self.h = torch.zeros(n, self.policy.hidden_size)
            self.c = torch.zeros(n, self.policy.hidden_size)

    @torch.no_grad()
    def act(self, observations, masks, rows=None):
        x = torch.from_numpy(policy_input(observations, masks, self.action_masking))
        state = {}
        if self.recurrent:
            idx = torch.as_tensor(rows) if rows is not None else slice(None)
            state = {"lstm_h": self.h[idx], "lstm_c": self.c[idx]}
        logits, value = self.policy.forward_eval(x, state)
        if self.recurrent:
            self.h[idx] = state["lstm_h"]
            self.c[idx] = state["lstm_c"]
        if self.greedy_head is not None:
            if rows is not None or self.decoder is None or self.decoder.memory.n != len(observations):
                raise ValueError("an Actor with a greedy head acts on all the rows given to start(n) at once")
            actions = torch.from_numpy(self.decoder.choose(logits.float().numpy(), np.asarray(observations)))
        elif self.greedy:
            actions = logits.argmax(dim=-1)
        else:
            actions = torch.multinomial(torch.softmax(logits.float(), dim=-1), 1, generator=self.generator)[:, 0]
        if self.explain:
            self.last_policy = explain(logits, value, self.explain_top)
        return actions.numpy().astype(np.int32)

    @torch.no_grad()
    def act_explained(self, observations, masks, rows=None, k: int = 5):
        """act(), and beside the actions what the policy saw in its choice, one dict per row:
        {"top": [[action, probability], ...] (the k likeliest, after the mask when the policy
        masks), "value": the value estimate, "entropy": of the action distribution (nats)}."""
        explain_before, top_before = self.explain, self.explain_top
        self.explain, self.explain_top = True, k
        try:
            actions = self.act(observations, masks, rows)
            return actions, self.last_policy
        finally:
            self.explain, self.explain_top = explain_before, top_before

    def episodes_ended(self, rows) -> None:
        """A recurrent policy starts the next episode of these rows from a zero state (and a
        greedy head from an empty travel memory)."""
        if self.decoder is not None:
            self.decoder.episodes_ended(np.asarray(rows, dtype=np.int64))
        if self.recurrent:
            index = torch.as_tensor(np.asarray(rows, dtype=np.int64))
            self.h[index] = 0
            self.c[index] = 0


def explain(logits: torch.Tensor, value: torch.Tensor, k: int = 5) -> list[dict]:
    """Per row: the k likeliest actions with their probabilities, the value and the entropy
    (rounded: they are for people to read, not to re-simulate). Masked actions (logits of
    -inf or a large negative) get probability 0 and add nothing to the entropy."""
    logits = logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    probs = logp.exp()
    entropy = -(torch.where(probs > 0, probs * logp, torch.zeros_like(probs))).sum(dim=-1)
    top_p, top_a = probs.topk(min(k, probs.shape[-1]), dim=-1)
    values = value.float().reshape(value.shape[0], -1)[:, 0] if value is not None else None
    def readable(x: float, digits: str = ".4g") -> float | None:
        return float(format(x, digits)) if math.isfinite(x) else None  # a NaN is never written into a replay

    out = []
    for row in range(logits.shape[0]):
        top = [[int(a), readable(float(p), ".4f") or 0.0] for a, p in zip(top_a[row].tolist(), top_p[row].tolist())]
        out.append({"top": top,
                    "value": readable(float(values[row])) if values is not None else None,
                    "entropy": readable(float(entropy[row]), ".4f")})
    return out
