"""The gated real-diagonal SSM straight from the equations: per sample, per step, plain autograd.

It holds the fast path (gated.py) to the maths in tests: same constructor and parameter names, so
`reference.load_state_dict(fast.state_dict())` gives the same function. Nothing is shared with the fast
path except the base class and the readout head. The reference of the stacked layer
subclasses the fast layer for its parameters only (and `step`); its `scan` is its own loop.

For each step t and every sample b, with token v = u_t[b]:
  a   = sigmoid(G[v])  (or 2 sigmoid(G[v]) - 1 with negative eigenvalues)
  h_t = a * h_{t-1} + B[v]     elementwise, h_{-1} = 0
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.gated import GatedLayer
from sdssm.models.readout import make_readout


class ReferenceGatedSSM(SequenceModel):
    """Per-step gated SSM; forward and prefix_logits come from SequenceModel."""

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool = True, state_size: int = 64,
                 readout: str = "linear", mlp_hidden: int = 64, negative_eigenvalues: bool = False) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        self.state_size = state_size
        self.negative_eigenvalues = negative_eigenvalues
        self.G = nn.Parameter(torch.empty(self.vocab_size, state_size).uniform_(1.0, 3.0))
        bound = 1.0 / math.sqrt(self.vocab_size)
        self.B = nn.Parameter(torch.empty(self.vocab_size, state_size).uniform_(-bound, bound))
        self.norm = nn.LayerNorm(state_size)
        self.head = make_readout(readout, state_size, num_classes, mlp_hidden)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def _step_sample(self, h: torch.Tensor, token: int) -> torch.Tensor:
        a = torch.sigmoid(self.G[token])
        if self.negative_eigenvalues:
            a = 2.0 * a - 1.0
        return a * h + self.B[token]

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length = tokens.shape
        samples = []
        for b in range(batch):
            h = self.G.new_zeros(self.state_size)
            states = []
            for t in range(length):
                h = self._step_sample(h, int(tokens[b, t]))
                states.append(h)
            samples.append(torch.stack(states) if states else self.G.new_zeros(0, self.state_size))
        return torch.stack(samples)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        flat = states.reshape(-1, self.state_size)
        return torch.stack([self._step_sample(h, token) for h in flat]).reshape(states.shape)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(states))


class ReferenceGatedLayer(GatedLayer):
    """GatedLayer per sample and per step, straight from the equations (for tests): same parameters.

    For each sample b and step t: a = sigmoid(G x_t + g) (or 2 sigmoid(.) - 1), h_t = a * h_{t-1} + B x_t.
    """

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        samples = []
        for b in range(x.shape[0]):
            h = x.new_zeros(self.state_size)
            states = []
            for t in range(x.shape[1]):
                a = torch.sigmoid(self.G.weight @ x[b, t] + self.G.bias)
                if self.negative_eigenvalues:
                    a = 2.0 * a - 1.0
                h = a * h + self.B.weight @ x[b, t]
                states.append(h)
            samples.append(torch.stack(states) if states else x.new_zeros(0, self.state_size))
        return torch.stack(samples)
