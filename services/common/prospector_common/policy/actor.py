"""Acting with a trained policy outside PuffeRL: a rollout.BatchAgent over the torch network.

    actor = Actor(policy, action_masking, greedy=False, seed=7)
    metrics = play_batch(actor, Batch(n, config), seeds)         # prospector.rollout
    metrics = run_episode(SingleGame(actor), Engine(config), 7)
"""

from __future__ import annotations

import numpy as np
import torch
from pufferlib.models import LSTMWrapper

from .network import policy_input


class Actor:
    """Plays a trained policy outside PuffeRL (evaluation): batched, greedy or sampled.

    act(obs [n, 260], masks [n, 69]) -> actions [n]; for the LSTM it keeps one
    recurrent state per row (episodes_ended(rows) zeroes it; pass `rows` to act
    on a subset of the rows)."""

    def __init__(self, policy: torch.nn.Module, action_masking: bool, greedy: bool = True, seed: int = 0):
        self.policy = policy.eval()
        self.action_masking = action_masking
        self.greedy = greedy
        self.recurrent = isinstance(policy, LSTMWrapper)
        self.generator = torch.Generator().manual_seed(seed)
        self.h = self.c = None

    def start(self, n: int) -> None:
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
        logits, _ = self.policy.forward_eval(x, state)
        if self.recurrent:
            self.h[idx] = state["lstm_h"]
            self.c[idx] = state["lstm_c"]
        if self.greedy:
            actions = logits.argmax(dim=-1)
        else:
            actions = torch.multinomial(torch.softmax(logits.float(), dim=-1), 1, generator=self.generator)[:, 0]
        return actions.numpy().astype(np.int32)

    def episodes_ended(self, rows) -> None:
        """A recurrent policy starts the next episode of these rows from a zero state."""
        if self.recurrent:
            index = torch.as_tensor(np.asarray(rows, dtype=np.int64))
            self.h[index] = 0
            self.c[index] = 0
