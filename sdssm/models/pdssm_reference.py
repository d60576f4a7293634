"""PD-SSM straight from the equations: per sample, per step, complex arithmetic, plain autograd.

It holds the fast path (pdssm.py) to the maths in tests: same constructor and parameter names, so
`reference.load_state_dict(fast.state_dict())` gives the same function. For each step t and sample b,
with token v = u_t[b]:
  M   = sum_i softmax(S e_v)_i A_i,   P = (onehot(argmax_n M) - softmax_n M).detach() + softmax_n M
  D   = sigmoid(magnitude[v]) * exp(i 2π sigmoid(phase[v]))
  h_t = D * (P h_{t-1}) + b_re[v] + i b_im[v],   h_{-1} = e_0
The straight-through estimator is autograd's own (the detach trick), written independently of the
fast path's hand-written gradient. The reference of the stacked layer (`ReferencePDLayer`) subclasses the
fast layer for its parameters only (and `step`); its `scan` is its own loop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.pdssm import PDLayer
from sdssm.models.readout import make_readout


class ReferencePDSSM(SequenceModel):
    """Per-step PD-SSM; forward and prefix_logits come from SequenceModel."""

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool = True, state_size: int = 64,
                 k: int = 8, readout: str = "linear", mlp_hidden: int = 64) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        n, v = state_size, self.vocab_size
        self.state_size, self.k = n, k
        self.select = nn.Linear(v, k)
        self.A = nn.Parameter(torch.randn(k, n, n) / math.sqrt(n))
        self.magnitude = nn.Parameter(torch.zeros(v, n))
        self.phase = nn.Parameter(torch.zeros(v, n))
        self.b_re = nn.Parameter(torch.zeros(v, n))
        self.b_im = nn.Parameter(torch.zeros(v, n))
        self.register_buffer("h0", F.one_hot(torch.tensor(0), 2 * n).float(), persistent=True)
        self.norm = nn.LayerNorm(2 * n)
        self.head = make_readout(readout, 2 * n, num_classes, mlp_hidden)

    @property
    def state_dim(self) -> int:
        return 2 * self.state_size

    def _step_sample(self, h: torch.Tensor, token: int) -> torch.Tensor:
        """One step of one sample, h complex [N]."""
        one_hot = F.one_hot(torch.tensor(token), self.vocab_size).to(self.A.dtype)
        s = torch.softmax(self.select(one_hot), dim=-1)
        m = torch.einsum("k,kij->ij", s, self.A)
        soft = torch.softmax(m, dim=-1)
        hard = F.one_hot(m.argmax(dim=-1), self.state_size).to(m.dtype)
        p = (hard - soft).detach() + soft
        d = torch.sigmoid(self.magnitude[token]) * torch.exp(1j * 2 * math.pi * torch.sigmoid(self.phase[token]))
        return d * (p.to(h.dtype) @ h) + torch.complex(self.b_re[token], self.b_im[token])

    def _complex(self, state: torch.Tensor) -> torch.Tensor:
        return torch.complex(state[..., :self.state_size], state[..., self.state_size:])

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length = tokens.shape
        h0 = self._complex(self.h0.to(self.A.dtype))
        samples = []
        for b in range(batch):
            h, states = h0, []
            for t in range(length):
                h = self._step_sample(h, int(tokens[b, t]))
                states.append(torch.cat([h.real, h.imag]))
            samples.append(torch.stack(states) if states else self.A.new_zeros(0, self.state_dim))
        return torch.stack(samples)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        flat = states.reshape(-1, self.state_dim)
        out = [self._step_sample(self._complex(h), token) for h in flat]
        return torch.stack([torch.cat([h.real, h.imag]) for h in out]).reshape(states.shape)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(states))


class ReferencePDLayer(PDLayer):
    """PDLayer per sample and per step, straight from the equations (for tests): same parameters; P is the
    N x N matrix (onehot(argmax M) - softmax M).detach() + softmax M, multiplied with h."""

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        n = self.state_size
        h0 = self.h0.to(x.dtype)
        samples = []
        for b in range(x.shape[0]):
            h, states = torch.complex(h0[:n], h0[n:]), []
            for t in range(x.shape[1]):
                u = x[b, t]
                s = torch.softmax(self.select.weight @ u + self.select.bias, dim=0)
                m = sum(s[i] * self.A[i] for i in range(self.k))
                soft = torch.softmax(m, dim=-1)
                p = (F.one_hot(m.argmax(dim=-1), n).to(m.dtype) - soft).detach() + soft
                modulus = torch.sigmoid(self.magnitude.weight @ u + self.magnitude.bias)
                angle = 2 * math.pi * torch.sigmoid(self.phase.weight @ u + self.phase.bias)
                d = modulus * torch.exp(1j * angle)
                bx = self.B.weight @ u
                h = d * (p.to(h.dtype) @ h) + torch.complex(bx[:n], bx[n:])
                states.append(torch.cat([h.real, h.imag]))
            samples.append(torch.stack(states))
        return torch.stack(samples)
