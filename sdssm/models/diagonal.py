"""Complex diagonal selective SSM: the diagonal baseline of Terzić et al. (AAAI 2025).

Per token u_t (one-hot over the vocabulary, query token included when enabled):
1. z_t = MLP(E u_t) in C^N, the MLP Linear(d, hidden) -> ReLU -> Linear(hidden, 2N) read as (Re, Im);
2. lambda_t = z_t / |z_t|, a unit phasor per channel (|z| clamped away from 0);
3. h_t = lambda_t * h_{t-1} (+ B u_t when `use_b`), h_0 a fixed random unit phasor (a buffer);
4. logits = readout([Re h_t, Im h_t]) -- linear or 2-layer MLP, no LayerNorm.

The state vector is [Re h, Im h], so `state_dim` = 2N.

Fast path. Because |lambda| = 1, lambda_t = exp(i theta_t) and the recurrence unrolls to

    Phi_t = sum_{s<=t} theta_s,     h_t = exp(i Phi_t) * (h_0 + sum_{s<=t} exp(-i Phi_s) b_s),

two cumulative sums: fully parallel over time, and stable, since every factor has modulus 1 (nothing
is divided by a product that could vanish). `scan_reference` is the per-step loop straight from the
recurrence, in complex arithmetic; the tests hold the two together in float64, values and gradients.

Since the vocabulary is tiny, lambda and B are computed once per pass as [V, N] tables, and Phi_t is an
exact count of each symbol so far times the [V, N] table of phases. `forward` (training) computes only
the last state: without B that is a single count per symbol, with B one sum over time.

`DiagonalLayer` is the same recurrence over a continuous input, the block `layers: n` stacks
(sdssm/models/stack.py); `ReferenceDiagonalLayer` is its per-step loop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.readout import make_readout
from sdssm.models.stack import RecurrentLayer

# |z| below this is treated as this (the normalisation would otherwise divide by ~0).
_EPS = 1e-12


class DiagonalSSM(SequenceModel):
    """Complex diagonal selective SSM with unit-modulus transitions, optional input map B.

    Args:
        alphabet_size, num_classes, query_token: see `SequenceModel`.
        state_size: N, the number of complex channels (the state vector has 2N reals).
        readout: "linear" or "mlp" (see `make_readout`), applied to [Re h, Im h].
        mlp_hidden: hidden width of the MLP readout.
        use_b: add B u_t, B a bias-free complex map of the one-hot token ([V, N] complex table).
        embed_dim: width of the token embedding feeding the lambda MLP (32 in the reference code).
        lambda_hidden: hidden width of the lambda MLP; default 4N as in the reference code.
    """

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool, state_size: int = 64,
                 readout: str = "linear", mlp_hidden: int = 64, use_b: bool = True, embed_dim: int = 32,
                 lambda_hidden: int | None = None) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        if state_size < 1 or embed_dim < 1:
            raise ValueError(f"need state_size >= 1 and embed_dim >= 1, got {state_size}, {embed_dim}")
        n, v = state_size, self.vocab_size
        hidden = lambda_hidden if lambda_hidden is not None else 4 * n
        self.state_size = n
        self.use_b = use_b
        self.embedding = nn.Embedding(v, embed_dim)
        self.lambda_mlp = nn.Sequential(nn.Linear(embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * n))
        if use_b:
            # Same scale as nn.Linear(v, n, bias=False) applied to a one-hot.
            bound = 1.0 / math.sqrt(v)
            self.b_re = nn.Parameter(torch.empty(v, n).uniform_(-bound, bound))
            self.b_im = nn.Parameter(torch.empty(v, n).uniform_(-bound, bound))
        else:
            self.register_parameter("b_re", None)
            self.register_parameter("b_im", None)
        # h_0 = exp(i phi_0), phi_0 ~ U[0, 2pi) per channel; fixed, saved with the model. The phase is what is
        # stored, so h_0 is a unit phasor to the precision of whatever dtype the model runs in.
        self.register_buffer("h0_phase", torch.rand(n) * (2 * math.pi), persistent=True)
        self.head = make_readout(readout, 2 * n, num_classes, mlp_hidden)

    @property
    def state_dim(self) -> int:
        return 2 * self.state_size

    @property
    def h0(self) -> torch.Tensor:
        """The initial state [Re h_0, Im h_0], [2N]."""
        return torch.cat([torch.cos(self.h0_phase), torch.sin(self.h0_phase)])

    # ---- per-token tables ------------------------------------------------------------------------------

    def _z_table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The unnormalised diagonal of every vocabulary entry: (Re z, Im z), each [V, N]."""
        z = self.lambda_mlp(self.embedding.weight)
        return z[:, : self.state_size], z[:, self.state_size:]

    def lambda_table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """lambda = z / max(|z|, eps) for every vocabulary entry: (Re, Im), each [V, N]."""
        re, im = self._z_table()
        # sqrt of a clamped square: finite gradient even where z = 0.
        modulus = torch.sqrt(torch.clamp(re * re + im * im, min=_EPS * _EPS))
        return re / modulus, im / modulus

    def _split(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return states[..., : self.state_size], states[..., self.state_size:]

    # ---- the recurrence --------------------------------------------------------------------------------

    def _closed_form(self, tokens: torch.Tensor, last_only: bool) -> torch.Tensor:
        """States from the closed form: [B, L] -> [B, L, 2N], or only the last one, [B, 1, 2N]."""
        re, im = self._z_table()
        dtype = re.dtype
        # Phases are accumulated in float64 (at least): Phi_t grows like t * pi, and float32 would lose ~1e-4
        # rad by t = 500. theta = arg z = arg lambda; atan2 is finite and differentiable wherever z != 0.
        acc = torch.promote_types(dtype, torch.float64)
        theta = torch.atan2(im, re).to(acc)  # [V, N]
        # Phi_t = sum_v n_v(t) theta_v with n_v(t) the count of symbol v in tokens[:, :t+1]: exact integer
        # counts times a [V, N] table, one small matmul instead of a cumsum over [B, L, N] (and its backward).
        counts = F.one_hot(tokens, self.vocab_size).to(acc)  # [B, L, V]
        if last_only and not self.use_b:
            counts = counts.sum(dim=1, keepdim=True)  # only Phi_L is needed
        else:
            counts = counts.cumsum(dim=1)
        phi = (counts @ theta).remainder(2 * math.pi).to(dtype)  # wrapped to [0, 2pi) before cos/sin
        cos, sin = torch.cos(phi), torch.sin(phi)
        h0_re, h0_im = self._split(self.h0.to(dtype))
        if self.use_b:
            b_re, b_im = F.embedding(tokens, self.b_re), F.embedding(tokens, self.b_im)
            # exp(-i Phi_s) b_s = (c b_re + s b_im) + i (c b_im - s b_re);  S_t = h_0 + sum_{s<=t} of that.
            r_re, r_im = cos * b_re + sin * b_im, cos * b_im - sin * b_re
            if last_only:
                s_re, s_im = r_re.sum(dim=1, keepdim=True) + h0_re, r_im.sum(dim=1, keepdim=True) + h0_im
                cos, sin = cos[:, -1:], sin[:, -1:]
            else:
                s_re, s_im = torch.cumsum(r_re, dim=1) + h0_re, torch.cumsum(r_im, dim=1) + h0_im
        else:
            s_re, s_im = h0_re, h0_im
        # h_t = exp(i Phi_t) S_t.
        return torch.cat([cos * s_re - sin * s_im, sin * s_re + cos * s_im], dim=-1)

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        """States after each token via the closed form above: [B, L] -> [B, L, 2N]."""
        return self._closed_form(tokens, last_only=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """As `SequenceModel.forward`, computing only the last state (no cumsum over time without B)."""
        if self.query_token:
            tokens = torch.cat([tokens, torch.full_like(tokens[:, :1], self.query_id)], dim=1)
        return self.readout(self._closed_form(tokens, last_only=True)[:, -1])

    def scan_reference(self, tokens: torch.Tensor) -> torch.Tensor:
        """The recurrence one step at a time in complex arithmetic (slow; for tests)."""
        lam = torch.complex(*self.lambda_table())  # [V, N]
        h0_re, h0_im = self._split(self.h0.to(lam.real.dtype))
        h = torch.complex(h0_re, h0_im).expand(tokens.shape[0], -1)
        b = torch.complex(self.b_re, self.b_im) if self.use_b else None
        out = []
        for t in range(tokens.shape[1]):
            h = lam[tokens[:, t]] * h
            if b is not None:
                h = h + b[tokens[:, t]]
            out.append(h)
        hs = torch.stack(out, dim=1)
        return torch.cat([hs.real, hs.imag], dim=-1)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        """h' = lambda(token) h (+ B[token]) for every state: [..., 2N] -> [..., 2N]."""
        lam_re, lam_im = (t[token] for t in self.lambda_table())
        h_re, h_im = self._split(states)
        new_re = lam_re * h_re - lam_im * h_im
        new_im = lam_re * h_im + lam_im * h_re
        if self.use_b:
            new_re = new_re + self.b_re[token]
            new_im = new_im + self.b_im[token]
        return torch.cat([new_re, new_im], dim=-1)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(states)


class DiagonalLayer(RecurrentLayer):
    """The complex diagonal recurrence over a continuous input x_t in R^d, for `layers` > 1 (stack.py):

        z_t = MLP(x_t) in C^N,  lambda_t = z_t / |z_t|,  h_t = lambda_t * h_{t-1} (+ B x_t),

    the MLP Linear(d, 2N) -> ReLU -> Linear(2N, 2N) read as (Re, Im), B a bias-free Linear(d, 2N) read as
    (Re, Im) when `use_b`, h_{-1} a fixed random unit phasor. State [Re h, Im h], 2N reals. The MLP's
    hidden width is 2N, not the token model's 4N: here it runs at every position of every string (the
    token model evaluates it once per vocabulary entry), and its matmuls are most of a training step.

    Fast path: the closed form of the module docstring with theta_t = arg z_t per position, so
    Phi_t = sum_{s<=t} theta_s is a cumulative sum over time (in float64 at least, as in `_closed_form`).
    `ReferenceDiagonalLayer` is the per-step loop in complex arithmetic.
    """

    def __init__(self, d_model: int, state_size: int, use_b: bool = True) -> None:
        super().__init__()
        n = state_size
        self.state_size = n
        self.use_b = use_b
        self.lambda_mlp = nn.Sequential(nn.Linear(d_model, 2 * n), nn.ReLU(), nn.Linear(2 * n, 2 * n))
        self.B = nn.Linear(d_model, 2 * n, bias=False) if use_b else None
        self.register_buffer("h0_phase", torch.rand(n) * (2 * math.pi), persistent=True)

    @property
    def state_dim(self) -> int:
        return 2 * self.state_size

    def _split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return z[..., : self.state_size], z[..., self.state_size:]

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        re, im = self._split(self.lambda_mlp(x))  # [B, L, N] each
        dtype = re.dtype
        acc = torch.promote_types(dtype, torch.float64)  # Phi_t grows like t * pi: sum it in float64
        phi = torch.atan2(im, re).to(acc).cumsum(dim=1).remainder(2 * math.pi).to(dtype)
        cos, sin = torch.cos(phi), torch.sin(phi)
        h0_re, h0_im = torch.cos(self.h0_phase).to(dtype), torch.sin(self.h0_phase).to(dtype)
        if self.B is not None:
            b_re, b_im = self._split(self.B(x))
            # S_t = h_0 + sum_{s<=t} exp(-i Phi_s) b_s, with exp(-i Phi) b = (c b_re + s b_im) + i (c b_im - s b_re).
            s_re = torch.cumsum(cos * b_re + sin * b_im, dim=1) + h0_re
            s_im = torch.cumsum(cos * b_im - sin * b_re, dim=1) + h0_im
        else:
            s_re, s_im = h0_re, h0_im
        # h_t = exp(i Phi_t) S_t.
        return torch.cat([cos * s_re - sin * s_im, sin * s_re + cos * s_im], dim=-1)

    def step(self, states: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        re, im = self._split(self.lambda_mlp(x))
        modulus = torch.sqrt(torch.clamp(re * re + im * im, min=_EPS * _EPS))
        lam_re, lam_im = re / modulus, im / modulus
        h_re, h_im = self._split(states)
        new_re, new_im = lam_re * h_re - lam_im * h_im, lam_re * h_im + lam_im * h_re
        if self.B is not None:
            b_re, b_im = self._split(self.B(x))
            new_re, new_im = new_re + b_re, new_im + b_im
        return torch.cat([new_re, new_im], dim=-1)


class ReferenceDiagonalLayer(DiagonalLayer):
    """DiagonalLayer one step at a time, straight from the equations in complex arithmetic (for tests)."""

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        re, im = self._split(self.lambda_mlp(x))
        z = torch.complex(re, im)
        lam = z / torch.sqrt(torch.clamp(re * re + im * im, min=_EPS * _EPS))
        h = torch.polar(torch.ones_like(self.h0_phase), self.h0_phase).to(z.dtype).expand(x.shape[0], -1)
        b = torch.complex(*self._split(self.B(x))) if self.B is not None else None
        out = []
        for t in range(x.shape[1]):
            h = lam[:, t] * h
            if b is not None:
                h = h + b[:, t]
            out.append(h)
        hs = torch.stack(out, dim=1)
        return torch.cat([hs.real, hs.imag], dim=-1)
