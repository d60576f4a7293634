"""SD-SSM straight from the equations: per sample, per step, plain autograd. Slow and obviously correct.

It exists to hold the fast path (sdssm.py) to the maths in tests: same constructor, same parameter
names, so `reference.load_state_dict(fast.state_dict())` gives the same function. Nothing here shares
code with the fast path except the base class and the readout head. The reference of the stacked layer
subclasses the fast layer for its parameters only (and `step`); its `scan` is its own loop.

For each step t and every sample b, with u = one-hot(token) over the vocabulary V:
  s      = softmax(W u + b_sel)                    [k]
  M      = sum_i s_i A_i                            [N, N]
  Â      = M with column j divided by (sum_i |M_ij|^p)^(1/p)
  h_t    = Â h_{t-1} + B u                          (B u = sum_v u_v B[v])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.readout import make_readout
from sdssm.models.sdssm import SDSSMLayer


class ReferenceSDSSM(SequenceModel):
    """Per-step SD-SSM; see the module docstring. Forward and prefix_logits come from SequenceModel."""

    def __init__(self, k: int, p: float, alphabet_size: int, num_classes: int, query_token: bool = True,
                 state_size: int = 64, readout: str = "linear", mlp_hidden: int = 64) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        self.k, self.p, self.state_size = k, float(p), state_size
        self.select = nn.Linear(self.vocab_size, k)
        bound = math.sqrt(6.0) / math.sqrt(2.0 * state_size)
        self.A = nn.Parameter(torch.empty(k, state_size, state_size).uniform_(-bound, bound))
        self.B = nn.Parameter(torch.empty(self.vocab_size, state_size).uniform_(-1.0, 1.0)
                              / math.sqrt(self.vocab_size))
        self.norm = nn.LayerNorm(state_size)
        self.head = make_readout(readout, state_size, num_classes, mlp_hidden)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def _transition(self, u: torch.Tensor) -> torch.Tensor:
        """A(u) for a batch of one-hots u [B, V]: [B, N, N], each sample's matrix normalised on its own."""
        s = torch.softmax(self.select(u), dim=-1)  # [B, k]
        m = torch.einsum("bk,kij->bij", s, self.A)
        # Column j of sample b: divide by (sum_i |m_bij|^p)^(1/p). The original has no epsilon; the tiny
        # floor only turns a would-be 0/0 (an all-zero column) into 0.
        col_norm = m.abs().pow(self.p).sum(dim=1, keepdim=True).pow(1.0 / self.p)
        return m / col_norm.clamp_min(1e-30)

    def _one_hot(self, token: torch.Tensor) -> torch.Tensor:
        return F.one_hot(token, self.vocab_size).to(self.A.dtype)

    def _step_one_hot(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        a = self._transition(u)
        return torch.bmm(a, h.unsqueeze(-1)).squeeze(-1) + u @ self.B

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length = tokens.shape
        h = torch.zeros(batch, self.state_size, dtype=self.A.dtype, device=self.A.device)
        states = []
        for t in range(length):
            h = self._step_one_hot(h, self._one_hot(tokens[:, t]))
            states.append(h)
        if not states:
            return h.new_zeros(batch, 0, self.state_size)
        return torch.stack(states, dim=1)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        flat = states.reshape(-1, self.state_size)
        u = self._one_hot(torch.full((flat.shape[0],), token, dtype=torch.int64, device=flat.device))
        return self._step_one_hot(flat, u).reshape(states.shape)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(states))


class ReferenceSDSSMLayer(SDSSMLayer):
    """SDSSMLayer per sample and per step, straight from the equations (for tests): same parameters.

    For each sample b and step t: s = softmax(W x_t + b_sel), M = sum_i s_i A_i, column j of M divided by
    (sum_i |M_ij|^p)^(1/p), h_t = Â h_{t-1} + B x_t.
    """

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        samples = []
        for b in range(x.shape[0]):
            h = x.new_zeros(self.state_size)
            states = []
            for t in range(x.shape[1]):
                s = torch.softmax(self.select.weight @ x[b, t] + self.select.bias, dim=0)
                m = sum(s[i] * self.A[i] for i in range(self.k))
                col_norm = torch.linalg.vector_norm(m, ord=self.p, dim=0)
                h = (m / col_norm.clamp_min(1e-30)) @ h + self.B.weight @ x[b, t]
                states.append(h)
            samples.append(torch.stack(states) if states else x.new_zeros(0, self.state_size))
        return torch.stack(samples)
