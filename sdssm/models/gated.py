"""A gated real-diagonal selective SSM (Mamba's recurrence, one layer), with or without negative eigenvalues.

Per token u_t (one of the vocabulary V = alphabet [+ query token]):
  a(u)  = sigmoid(G u)            in (0, 1)    the gate: each state coordinate decays or holds
        = 2 sigmoid(G u) - 1      in (-1, 1)   with `negative_eigenvalues` (Grazzi et al., ICLR 2025)
  h_t   = a(u_t) ⊙ h_{t-1} + B u_t,   h_{-1} = 0
  y     = C LayerNorm(h_t) + c      (or an MLP head), read at the last position (after the query token)
G [V, N] and B [V, N] are tables: with one-hot inputs, `Linear(V, N)` is a row lookup. Sarrof et al.
(NeurIPS 2024) prove that gates in [0, 1] cannot recognise parity at every length; a gate that may
reach -1 flips the state's sign on a 1 and solves it. `sweeps/sarrof.yaml` tests both claims.

The fast path is `GatedScan`, one autograd node for the whole recurrence with a hand-written backward
(g_t = dLoss/dh_t, dH_t the gradient reaching state t from outside):
    g_{L-1} = dH_{L-1},   g_{t-1} = dH_{t-1} + a_t ⊙ g_t
    da_t = g_t ⊙ h_{t-1},   db_t = g_t,   then summed per token into the [V, N] tables.
A step is one fused multiply-add over [B, N] (`addcmul`), a few microseconds, so a Python loop over time
costs little next to the O(L^2) work a closed form (a triangular matrix of partial gate products per
chunk) would do at the training lengths; a cumulative product divided back out is unusable here, since
gates reach 0 and change sign. `ReferenceGatedSSM` is the same model per sample and per step, with the
same parameter names; tests hold the two together in float64.

`GatedLayer` is the same recurrence over a continuous input (a gate and an input per position), the block
`layers: n` stacks (sdssm/models/stack.py); its scan `GatedSequenceScan` shares GatedScan's loops and
backward; `ReferenceGatedLayer` (gated_reference.py) is its per-step loop.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.dense_scan import check_tokens
from sdssm.models.readout import make_readout
from sdssm.models.stack import RecurrentLayer


def gate(logits: torch.Tensor, negative_eigenvalues: bool) -> torch.Tensor:
    """The gate a from its pre-activation: sigmoid in (0, 1), or 2 sigmoid - 1 in (-1, 1)."""
    return 2.0 * torch.sigmoid(logits) - 1.0 if negative_eigenvalues else torch.sigmoid(logits)


def _token_sums(tokens: torch.Tensor, rows: torch.Tensor, vocab: int) -> torch.Tensor:
    """out[v] = sum of rows [R, N] whose token (tokens [R]) is v: a one-hot GEMM, deterministic on GPUs
    too (index_add_ would use atomics)."""
    return F.one_hot(tokens, vocab).to(rows.dtype).t() @ rows


def _scan_forward(a_seq: torch.Tensor, b_seq: torch.Tensor) -> torch.Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t from h_{-1} = 0, time-major [L, B, N] in and out."""
    states = torch.empty_like(b_seq)
    states[0] = b_seq[0]
    for t in range(1, states.shape[0]):
        torch.addcmul(b_seq[t], a_seq[t], states[t - 1], out=states[t])
    return states


def _scan_backward(a_seq: torch.Tensor, states: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(da_t, db_t = g_t) per position from dH (grad, [L, B, N]), by the recursion in the module docstring."""
    g = grad.clone(memory_format=torch.contiguous_format)  # g[t] = dLoss/dh_t once the loop has passed t
    for t in range(g.shape[0] - 1, 0, -1):
        g[t - 1].addcmul_(a_seq[t], g[t])
    grad_a_seq = torch.zeros_like(g)
    torch.mul(g[1:], states[:-1], out=grad_a_seq[1:])  # h_{-1} = 0: no gate gradient at t = 0
    return grad_a_seq, g


class GatedScan(torch.autograd.Function):
    """h_t = a[u_t] ⊙ h_{t-1} + b[u_t] from h_{-1} = 0. Inputs: gate table a [V, N], input table b [V, N],
    tokens [B, L] (L >= 1). Output: states [L, B, N], time-major."""

    @staticmethod
    def forward(ctx: Any, a_tab: torch.Tensor, b_tab: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        time_major = tokens.t()
        a_seq = a_tab[time_major]  # [L, B, N]
        states = _scan_forward(a_seq, b_tab[time_major])
        ctx.save_for_backward(a_seq, tokens, states)
        ctx.vocab = a_tab.shape[0]
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a_seq, tokens, states = ctx.saved_tensors
        grad_a_seq, g = _scan_backward(a_seq, states, grad)
        n = g.shape[2]
        flat_tokens = tokens.t().reshape(-1)
        grad_a = _token_sums(flat_tokens, grad_a_seq.view(-1, n), ctx.vocab)
        grad_b = _token_sums(flat_tokens, g.view(-1, n), ctx.vocab)
        return grad_a, grad_b, None


class GatedSequenceScan(torch.autograd.Function):
    """h_t = a_t ⊙ h_{t-1} + b_t from h_{-1} = 0, with a gate and an input per position (the layer of a
    stack): a_seq, b_seq [L, B, N] (L >= 1) -> states [L, B, N], time-major; the same hand-written
    backward as GatedScan, without the per-token sums."""

    @staticmethod
    def forward(ctx: Any, a_seq: torch.Tensor, b_seq: torch.Tensor) -> torch.Tensor:
        states = _scan_forward(a_seq, b_seq)
        ctx.save_for_backward(a_seq, states)
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a_seq, states = ctx.saved_tensors
        return _scan_backward(a_seq, states, grad)


class GatedSSM(SequenceModel):
    """One-layer gated real-diagonal SSM; see the module docstring for the maths.

    Args: alphabet_size, num_classes, query_token (see `SequenceModel`); state_size N; readout "linear" |
    "mlp" after a LayerNorm; mlp_hidden; negative_eigenvalues: gates in (-1, 1) instead of (0, 1).
    Parameters: `G` [V, N] (gate pre-activations), `B` [V, N] (inputs), `norm`, `head`.
    """

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool = True, state_size: int = 64,
                 readout: str = "linear", mlp_hidden: int = 64, negative_eigenvalues: bool = False) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        if state_size < 1:
            raise ValueError(f"need state_size >= 1, got {state_size}")
        self.state_size = state_size
        self.negative_eigenvalues = negative_eigenvalues
        self.G = nn.Parameter(torch.empty(self.vocab_size, state_size))
        self.B = nn.Parameter(torch.empty(self.vocab_size, state_size))
        self.norm = nn.LayerNorm(state_size)
        self.head = make_readout(readout, state_size, num_classes, mlp_hidden)
        init_gated_parameters(self)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def gates(self) -> torch.Tensor:
        """a [V, N]: every token's gate."""
        return gate(self.G, self.negative_eigenvalues)

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        check_tokens(tokens, self.vocab_size)
        if tokens.shape[1] == 0:
            return self.B.new_zeros(tokens.shape[0], 0, self.state_size)
        return GatedScan.apply(self.gates(), self.B, tokens).transpose(0, 1)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token must lie in [0, {self.vocab_size}), got {token}")
        return torch.addcmul(self.B[token], self.gates()[token], states)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(states))


def init_gated_parameters(model: nn.Module) -> None:
    """Gate pre-activations uniform in [1, 3] (a in [0.73, 0.95], or [0.46, 0.91] with negative
    eigenvalues: states remember at first, as Mamba's initialisation intends), inputs uniform in
    +-1/sqrt(V) (a bias-free Linear(V, N)'s default)."""
    with torch.no_grad():
        model.G.uniform_(1.0, 3.0)
        model.B.uniform_(-1.0 / model.vocab_size ** 0.5, 1.0 / model.vocab_size ** 0.5)


class GatedLayer(RecurrentLayer):
    """The gated recurrence over a continuous input x_t in R^d, for `layers` > 1 (stack.py):

        a_t = gate(G x_t + g),   b_t = B x_t,   h_t = a_t ⊙ h_{t-1} + b_t,   h_{-1} = 0,

    G a Linear(d, N) (its bias uniform in [1, 3] at first, as the token model's gates), B a bias-free
    Linear(d, N). Fast path: `GatedSequenceScan`; `ReferenceGatedLayer` (gated_reference.py) is the
    per-step loop.
    """

    def __init__(self, d_model: int, state_size: int, negative_eigenvalues: bool = False) -> None:
        super().__init__()
        self.state_size = state_size
        self.negative_eigenvalues = negative_eigenvalues
        self.G = nn.Linear(d_model, state_size)
        self.B = nn.Linear(d_model, state_size, bias=False)
        with torch.no_grad():
            self.G.bias.uniform_(1.0, 3.0)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], 0, self.state_size)
        time_major = x.transpose(0, 1)
        a_seq = gate(self.G(time_major), self.negative_eigenvalues)
        return GatedSequenceScan.apply(a_seq.contiguous(), self.B(time_major).contiguous()).transpose(0, 1)

    def step(self, states: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.B(x), gate(self.G(x), self.negative_eigenvalues), states)
