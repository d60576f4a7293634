"""PD-SSM (Terzić, Menet et al., NeurIPS 2025, arXiv 2509.22284), one layer: A(u) = P(u) D(u).

Per token u (one of the vocabulary V = alphabet [+ query token]):
  s(u)  = softmax(S u)                         selection weights over a dictionary of k matrices
  M(u)  = sum_i s_i(u) A_i                     [N, N], as SD-SSM's mix (without the normalisation)
  P(u)  = one-hot of argmax_n M(u)[m, n] in every row m     (straight-through: the gradient is that of
          softmax_n M(u)[m, n], the authors' estimator)
  D(u)  = sigmoid(R u) * exp(i 2π sigmoid(Φ u))    a complex diagonal of modulus < 1
  h_t   = D(u_t) ⊙ (P(u_t) h_{t-1}) + (B_re + i B_im) u_t,   h_{-1} = e_0 (the authors' one-hot start)
  y     = C LayerNorm([Re h_t, Im h_t]) + c    (or an MLP head), read at the last position
P(u) h is a gather: row m of P(u) holds one 1, at column idx(u)[m], so (P h)[m] = h[idx(u)[m]]. One layer
of state size N emulates any N-state automaton (P moves the one-hot state, D keeps it of modulus one in
the limit), and a step costs O(N), not SD-SSM's O(N^2). With one-hot inputs every per-token quantity is
a table over the vocabulary: R, Φ, B_re, B_im are [V, N] tables, S is [k, V] (the authors feed an
embedding through small MLPs; a table is what any function of a one-hot input reduces to).

The fast path is `PDScan`, one autograd node for the recurrence (complex tensors inside, real and
imaginary parts side by side outside). With z_t = P(u_t) h_{t-1} and G_t = dLoss/dh_t (real part + i imaginary part):
    dz_t = conj(D_t) G_t,   dD_t = G_t conj(z_t),   db_t = G_t,
    dh_{t-1}[n] += sum of dz_t[m] over the rows m with idx(u_t)[m] = n    (a scatter-add, the gather's adjoint)
    dP_v = sum over positions with token v of Re(dz_t conj(h_{t-1})ᵀ) = dz_re h_reᵀ + dz_im h_imᵀ
The last is the straight-through gradient of P as if it were softmax(M): one GEMM per token over all
positions (dense_scan.outer_sums_by_token). The softmax and mix of the [V, N, N] tables are left to
autograd. `ReferencePDSSM` (pdssm_reference.py) runs the same maths per sample and per step with
autograd's own straight-through estimator; tests hold the two together in float64.

`PDLayer` is the same recurrence over a continuous input, the block `layers: n` stacks
(sdssm/models/stack.py); `ReferencePDLayer` (pdssm_reference.py) is its per-sample, per-step loop.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.dense_scan import check_tokens, outer_sums_by_token
from sdssm.models.readout import make_readout
from sdssm.models.stack import RecurrentLayer


class PDScan(torch.autograd.Function):
    """Inputs: soft P tables [V, N, N] (softmax over the last axis; the straight-through gradient's
    target), idx [V, N] (the hard argmax columns), D as (re, im) [V, N] each, b as (re, im) [V, N] each,
    tokens [B, L] (L >= 1), initial state (re, im) [N] each. Output: states [L, B, 2N], time-major,
    [Re h_t, Im h_t] side by side. Inside, states are complex tensors: a step is one gather and one complex
    multiply-add (`addcmul`), about a third of the time of the same step in real and imaginary parts."""

    @staticmethod
    def forward(ctx: Any, soft_p: torch.Tensor, idx: torch.Tensor, d_re: torch.Tensor, d_im: torch.Tensor,
                b_re: torch.Tensor, b_im: torch.Tensor, tokens: torch.Tensor, h0_re: torch.Tensor,
                h0_im: torch.Tensor) -> torch.Tensor:
        time_major = tokens.t()
        length, batch = time_major.shape
        gather_idx = idx[time_major]  # [L, B, N]: row m of step t reads column gather_idx[t, b, m]
        d_seq = torch.complex(d_re, d_im)[time_major]
        b_seq = torch.complex(b_re, b_im)[time_major]
        states = torch.empty(length + 1, batch, d_re.shape[1], dtype=d_seq.dtype)  # states[t + 1] = h_t
        states[0] = torch.complex(h0_re, h0_im)
        for t in range(length):
            torch.addcmul(b_seq[t], d_seq[t], states[t].gather(1, gather_idx[t]), out=states[t + 1])
        ctx.save_for_backward(soft_p, tokens, gather_idx, d_seq, states)
        return torch.cat([states[1:].real, states[1:].imag], dim=2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        soft_p, tokens, gather_idx, d_seq, states = ctx.saved_tensors
        length, batch, two_n = grad.shape
        n = two_n // 2
        vocab = soft_p.shape[0]
        # G_t = dLoss/dRe h_t + i dLoss/dIm h_t, accumulated as the loop passes t
        g = torch.complex(grad[..., :n], grad[..., n:])
        dz = torch.empty_like(g)  # dLoss/dz_t = conj(D_t) G_t
        grad_h0 = g.new_zeros(batch, n)
        for t in range(length - 1, -1, -1):
            torch.mul(d_seq[t].conj(), g[t], out=dz[t])
            (g[t - 1] if t else grad_h0).scatter_add_(1, gather_idx[t], dz[t])  # the gather's adjoint
        z = states[:-1].gather(2, gather_idx)  # z_t = P(u_t) h_{t-1}, recomputed in one call
        flat = tokens.t().reshape(-1)
        by_token = F.one_hot(flat, vocab).to(grad.dtype).t()  # [V, R]: sums per token as GEMMs (deterministic)
        # view_as_real: [R, N, 2] (re, im interleaved) without a copy
        grad_d = (by_token @ torch.view_as_real(g * z.conj()).reshape(-1, 2 * n)).view(vocab, n, 2)  # dLoss/dD
        grad_b = (by_token @ torch.view_as_real(g).reshape(-1, 2 * n)).view(vocab, n, 2)  # dLoss/db
        # Straight-through: dP_v = sum over token-v positions of Re(dz_t conj(h_{t-1})ᵀ) = dz_re h_reᵀ + dz_im h_imᵀ.
        grad_p = torch.zeros_like(soft_p)
        rows_g = torch.cat([dz.real.reshape(-1, n), dz.imag.reshape(-1, n)])
        rows_h = torch.cat([states[:-1].real.reshape(-1, n), states[:-1].imag.reshape(-1, n)])
        outer_sums_by_token(torch.cat([flat, flat]), rows_g, rows_h, grad_p, soft_p.new_zeros(vocab, n))
        return (grad_p, None, grad_d[..., 0], grad_d[..., 1], grad_b[..., 0], grad_b[..., 1], None,
                grad_h0.real.sum(0), grad_h0.imag.sum(0))


class PDSSM(SequenceModel):
    """One-layer PD-SSM; see the module docstring for the maths.

    Args: alphabet_size, num_classes, query_token (see `SequenceModel`); state_size N; k, the dictionary
    size; readout "linear" | "mlp" after a LayerNorm on [Re h, Im h]; mlp_hidden.
    Parameters: `select` (Linear(V, k)), `A` [k, N, N], `magnitude` and `phase` [V, N] (pre-sigmoid),
    `b_re`, `b_im` [V, N], `norm`, `head`. The initial state e_0 is a buffer.
    """

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool = True, state_size: int = 64,
                 k: int = 8, readout: str = "linear", mlp_hidden: int = 64) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        if k < 1 or state_size < 1:
            raise ValueError(f"need k >= 1 and state_size >= 1, got k={k}, state_size={state_size}")
        n, v = state_size, self.vocab_size
        self.state_size, self.k = n, k
        self.select = nn.Linear(v, k)
        self.A = nn.Parameter(torch.randn(k, n, n) / math.sqrt(n))  # the authors' scale
        self.magnitude = nn.Parameter(torch.empty(v, n).uniform_(1.0, 3.0))  # |D| in [0.73, 0.95] at first
        self.phase = nn.Parameter(torch.empty(v, n).uniform_(-3.0, 3.0))
        bound = 1.0 / math.sqrt(2 * n)  # the authors' halved Glorot variance
        self.b_re = nn.Parameter(torch.empty(v, n).uniform_(-bound, bound))
        self.b_im = nn.Parameter(torch.empty(v, n).uniform_(-bound, bound))
        self.register_buffer("h0", F.one_hot(torch.tensor(0), 2 * n).float(), persistent=True)  # e_0, real
        self.norm = nn.LayerNorm(2 * n)
        self.head = make_readout(readout, 2 * n, num_classes, mlp_hidden)

    @property
    def state_dim(self) -> int:
        return 2 * self.state_size

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(soft P [V, N, N], idx [V, N], Re D [V, N], Im D [V, N]) for every vocabulary token."""
        weights = torch.softmax(self.select.weight.t() + self.select.bias, dim=-1)  # s(e_v), [V, k]
        mixed = torch.einsum("vk,kmn->vmn", weights, self.A)
        soft = torch.softmax(mixed, dim=-1)
        idx = mixed.detach().argmax(dim=-1)
        modulus = torch.sigmoid(self.magnitude)
        angle = 2 * math.pi * torch.sigmoid(self.phase)
        return soft, idx, modulus * torch.cos(angle), modulus * torch.sin(angle)

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        check_tokens(tokens, self.vocab_size)
        if tokens.shape[1] == 0:
            return self.b_re.new_zeros(tokens.shape[0], 0, self.state_dim)
        soft, idx, d_re, d_im = self.tables()
        h0 = self.h0.to(self.b_re.dtype)
        states = PDScan.apply(soft, idx, d_re, d_im, self.b_re, self.b_im, tokens,
                              h0[:self.state_size], h0[self.state_size:])
        return states.transpose(0, 1)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        """h' = D(token) ⊙ (P(token) h) + b(token) for every state, with P's straight-through gradient."""
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token must lie in [0, {self.vocab_size}), got {token}")
        soft, idx, d_re, d_im = self.tables()
        n = self.state_size
        hard = F.one_hot(idx[token], n).to(soft.dtype)
        p = (hard - soft[token]).detach() + soft[token]  # value: the one-hot; gradient: the softmax's
        h_re, h_im = states[..., :n] @ p.t(), states[..., n:] @ p.t()
        new_re = d_re[token] * h_re - d_im[token] * h_im + self.b_re[token]
        new_im = d_re[token] * h_im + d_im[token] * h_re + self.b_im[token]
        return torch.cat([new_re, new_im], dim=-1)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(states))


class PDLayer(RecurrentLayer):
    """PD-SSM's recurrence over a continuous input x_t in R^d, for `layers` > 1 (stack.py):

        M_t = sum_i softmax(S x_t + s)_i A_i,   P_t = one-hot of argmax_n M_t[m, n] per row (straight-through
        with softmax_n M_t's gradient),   D_t = sigmoid(R x_t + r) * exp(i 2π sigmoid(Φ x_t + φ)),
        h_t = D_t ⊙ (P_t h_{t-1}) + B x_t,   h_{-1} = e_0,

    S, R, Φ Linear maps from d (R's bias uniform in [1, 3] at first, as the token model's magnitudes), B a
    bias-free Linear(d, 2N) read as (Re, Im). State [Re h, Im h], 2N reals.

    Fast path, batched over the strings: per step one GEMM for the batch's mixtures M_t, a gather for
    P_t h (row m reads h[idx[m]]) and one complex multiply-add; the straight-through gradient of P_t enters
    as softmax(M_t) h - its detached value (0 in value; gradient d soft = dz h^T, none to h, whose gradient
    is the gather's). `ReferencePDLayer` (pdssm_reference.py) multiplies by the matrix P per sample.
    """

    def __init__(self, d_model: int, state_size: int, k: int = 8) -> None:
        super().__init__()
        if k < 1 or state_size < 1:
            raise ValueError(f"need k >= 1 and state_size >= 1, got k={k}, state_size={state_size}")
        n = state_size
        self.state_size, self.k = n, k
        self.select = nn.Linear(d_model, k)
        self.A = nn.Parameter(torch.randn(k, n, n) / math.sqrt(n))
        self.magnitude = nn.Linear(d_model, n)
        self.phase = nn.Linear(d_model, n)
        self.B = nn.Linear(d_model, 2 * n, bias=False)
        with torch.no_grad():
            self.magnitude.bias.uniform_(1.0, 3.0)
        self.register_buffer("h0", F.one_hot(torch.tensor(0), 2 * n).float(), persistent=True)  # e_0, real

    @property
    def state_dim(self) -> int:
        return 2 * self.state_size

    def _inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(selection weights [..., k], D [..., N] complex, B x [..., N] complex) of inputs x [..., d]."""
        n = self.state_size
        d = torch.polar(torch.sigmoid(self.magnitude(x)), 2 * math.pi * torch.sigmoid(self.phase(x)))
        b = self.B(x)
        return torch.softmax(self.select(x), dim=-1), d, torch.complex(b[..., :n], b[..., n:])

    def _step(self, h: torch.Tensor, weights: torch.Tensor, d: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """h [R, N] complex, weights [R, k], d and b [R, N] complex -> the next h."""
        n = self.state_size
        mixed = (weights @ self.A.view(self.k, n * n)).view(-1, n, n)
        soft = torch.softmax(mixed, dim=-1).to(h.dtype)
        held = torch.bmm(soft, h.detach()[..., None])[..., 0]
        z = h.gather(1, mixed.detach().argmax(dim=-1)) + (held - held.detach())
        return torch.addcmul(b, d, z)

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        weights, d, b = self._inputs(x)
        h0 = self.h0.to(x.dtype)
        h = torch.complex(h0[: self.state_size], h0[self.state_size:]).expand(x.shape[0], -1)
        states = []
        for t in range(x.shape[1]):
            h = self._step(h, weights[:, t], d[:, t], b[:, t])
            states.append(h)
        if not states:
            return x.new_zeros(x.shape[0], 0, self.state_dim)
        hs = torch.stack(states, dim=1)
        return torch.cat([hs.real, hs.imag], dim=-1)

    def step(self, states: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        n, lead = self.state_size, states.shape[:-1]
        weights, d, b = self._inputs(x.reshape(-1, x.shape[-1]))
        flat = states.reshape(-1, 2 * n)
        h = self._step(torch.complex(flat[:, :n], flat[:, n:]), weights, d, b)
        return torch.cat([h.real, h.imag], dim=-1).view(*lead, 2 * n)
