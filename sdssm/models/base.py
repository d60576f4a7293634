"""The interface every model family implements: a recurrence with scan / step / readout.

Token convention: a task's symbols are 0..alphabet_size-1; when the query token is enabled its id is
`alphabet_size`, so the model's input vocabulary has `alphabet_size + 1` entries.

Shapes: tokens are int64 [B, L]; a state is a float vector of size `state_dim` (for an LSTM the
hidden and cell vectors side by side, for a complex model the real and imaginary parts side by side).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class SequenceModel(nn.Module, ABC):
    """A recurrent sequence classifier: one layer of a family, or a stack of them (stack.py).

    Subclasses implement `scan`, `step` and `readout`; `forward` (training) and `prefix_logits`
    (evaluation over every length at once) are built from them and may be overridden by a fast path.
    """

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool) -> None:
        super().__init__()
        if alphabet_size < 1 or num_classes < 2:
            raise ValueError(f"need alphabet_size >= 1 and num_classes >= 2, got {alphabet_size}, {num_classes}")
        self.alphabet_size = alphabet_size
        self.num_classes = num_classes
        self.query_token = query_token
        self.vocab_size = alphabet_size + (1 if query_token else 0)
        self.query_id = alphabet_size if query_token else -1

    @property
    @abstractmethod
    def state_dim(self) -> int:
        """Size of the state vector returned by `scan`."""

    @abstractmethod
    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        """States after each token: tokens [B, L] -> states [B, L, state_dim]. Differentiable."""

    @abstractmethod
    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        """One more token, the same for every state: states [..., state_dim] -> [..., state_dim]."""

    @abstractmethod
    def readout(self, states: torch.Tensor) -> torch.Tensor:
        """Class logits from states: [..., state_dim] -> [..., num_classes]."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of the whole string, read at the last position (the query token when enabled): [B, C]."""
        if self.query_token:
            query = torch.full((tokens.shape[0], 1), self.query_id, dtype=tokens.dtype, device=tokens.device)
            tokens = torch.cat([tokens, query], dim=1)
        return self.readout(self.scan(tokens)[:, -1])

    def prefix_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of every prefix from one scan: tokens [B, L] -> [B, L, C].

        Prefix t's prediction is read after token t, or after one query step applied to that state.
        """
        states = self.scan(tokens)
        if self.query_token:
            states = self.step(states, self.query_id)
        return self.readout(states)
