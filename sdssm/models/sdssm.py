"""SD-SSM (selective dense state-space model), the fast path.

Per token u_t (one-hot over the vocabulary V = alphabet [+ query token]):
  s_t    = softmax(W u_t + b)                       selection weights over a dictionary of k matrices
  A(u_t) = colnorm_p(sum_i s_t,i A_i)               every column divided by its L_p norm
  h_t    = A(u_t) h_{t-1} + B u_t,   h_{-1} = 0
  y      = C LayerNorm(h_t) + c                      (or an MLP head), read at the last position

A(u) depends on the token alone, so one forward pass needs only the V matrices Â_v = A(e_v): they are
built once per pass (`TransitionMatrices`, one autograd node) and the recurrence then runs through
`dense_scan` (dense_scan.py), which has a hand-written backward. Training reads one output per string:
the scan multiplies by the alphabet's matrices only and applies the query token as a final step.
Evaluation reads every prefix from one scan (`prefix_logits`). `ReferenceSDSSM` (sdssm_reference.py) is
the same model computed per sample and per step straight from the equations; the parameter names match,
so a state dict moves between the two, and tests hold the two together in float64.

Parameters: `select` (nn.Linear(V, k): W and b), `A` [k, N, N] (the dictionary), `B` [V, N] (row v is
B e_v, i.e. the transposed weight of a bias-free Linear(V, N)), `norm` (LayerNorm(N)), `head` (readout).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.dense_scan import check_inputs, dense_scan, iter_states
from sdssm.models.readout import make_readout

# The original divides by the column norm with no epsilon. A column of exact zeros would give 0/0, so the
# norm is clamped from below at this value; it never binds for any column with a nonzero entry that
# matters (a norm of 1e-30 is far below anything a trained or initialised dictionary produces).
NORM_FLOOR = 1e-30

# Evaluation produces states in chunks of about this many floats (256K = 1 MiB in float32: one L2 cache).
EVAL_CHUNK_ELEMENTS = 1 << 18


def _lp_pow(x: torch.Tensor, q: float) -> torch.Tensor:
    """|x|^q elementwise for q >= 0, with 0^q = 0 for q > 0. exp(q log|x|) is several times faster than
    pow with a fractional exponent on CPU (log 0 = -inf gives exp(-inf) = 0, no special case needed)."""
    if q == 0.0:
        return torch.ones_like(x)
    if q == 1.0:
        return x.abs()
    if q == 2.0:
        return x * x
    return torch.exp(torch.log(x.abs()) * q)


class TransitionMatrices(torch.autograd.Function):
    """Â = colnorm_p(softmax(W^T + b) @ A): the normalised transition of every token, as one autograd node.

    Inputs: W [k, V] (select.weight), b [k], the dictionary A [k, N, N], p. Output Â [V, N, N].
    Backward, with S = softmax(W^T + b) [V, k], M = S A, n_j = ||M_:j||_p, Y = M / n:
      column normalisation  dM_ij = (G_ij - c_j sign(Y_ij) |Y_ij|^(p-1)) / n_j,   c_j = sum_i G_ij Y_ij
                            (c_j = 0 where the floor binds: there the clamp passes no gradient to n)
      mixture               dA = S^T dM,   dS = dM A^T
      softmax               dlogits = S * (dS - sum_k S dS),   dW = dlogits^T,   db = sum_v dlogits
    """

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor,
                p: float) -> torch.Tensor:
        k, n = dictionary.shape[0], dictionary.shape[1]
        selection = torch.softmax(weight.t() + bias, dim=-1)  # row v: softmax(W e_v + b)
        mixed = (selection @ dictionary.reshape(k, n * n)).view(-1, n, n)
        norms = _lp_pow(mixed, p).sum(dim=-2, keepdim=True).pow(1.0 / p)  # [V, 1, N]: one per column
        clamped = norms.clamp_min(NORM_FLOOR)
        out = mixed / clamped
        ctx.save_for_backward(selection, dictionary, out, clamped, norms >= NORM_FLOOR)
        ctx.p = p
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        selection, dictionary, out, clamped, unclamped = ctx.saved_tensors
        k, n = dictionary.shape[0], dictionary.shape[1]
        c = (grad * out).sum(dim=-2, keepdim=True) * unclamped
        d_mixed = (grad - c * torch.sign(out) * _lp_pow(out, ctx.p - 1.0)) / clamped
        d_mixed = d_mixed.view(-1, n * n)
        d_dictionary = (selection.t() @ d_mixed).view(k, n, n)
        d_selection = d_mixed @ dictionary.reshape(k, n * n).t()
        d_logits = selection * (d_selection - (selection * d_selection).sum(dim=-1, keepdim=True))
        return d_logits.t(), d_logits.sum(dim=0), d_dictionary, None


def transition_matrices(weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor,
                        p: float) -> torch.Tensor:
    """Â [V, N, N] from select.weight [k, V], select.bias [k] and the dictionary [k, N, N]."""
    return TransitionMatrices.apply(weight, bias, dictionary, p)


def init_sdssm_parameters(model: nn.Module, vocab_size: int, state_size: int) -> None:
    """The reference code's initialisation: dictionary uniform in +-sqrt(6)/sqrt(2N); `select` keeps
    nn.Linear's default; B as a bias-free nn.Linear(V, N) would be, uniform in +-1/sqrt(V)."""
    bound_a = math.sqrt(6.0) / math.sqrt(2.0 * state_size)
    with torch.no_grad():
        model.A.uniform_(-bound_a, bound_a)
        model.B.uniform_(-1.0 / math.sqrt(vocab_size), 1.0 / math.sqrt(vocab_size))


class SDSSM(SequenceModel):
    """One-layer SD-SSM with a linear (paper) or MLP readout; see the module docstring for the maths."""

    def __init__(self, k: int, p: float, alphabet_size: int, num_classes: int, query_token: bool = True,
                 state_size: int = 64, readout: str = "linear", mlp_hidden: int = 64) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        if k < 1 or state_size < 1 or not p >= 1.0:
            raise ValueError(f"need k >= 1, state_size >= 1, p >= 1; got k={k}, state_size={state_size}, p={p}")
        self.k, self.p, self.state_size = k, float(p), state_size
        self.select = nn.Linear(self.vocab_size, k)
        self.A = nn.Parameter(torch.empty(k, state_size, state_size))
        self.B = nn.Parameter(torch.empty(self.vocab_size, state_size))
        self.norm = nn.LayerNorm(state_size)
        self.head = make_readout(readout, state_size, num_classes, mlp_hidden)
        init_sdssm_parameters(self, self.vocab_size, state_size)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def transition_matrices(self) -> torch.Tensor:
        """Â [V, N, N]: the normalised transition of every vocabulary token (Â[v] = A(e_v))."""
        return transition_matrices(self.select.weight, self.select.bias, self.A, self.p)

    # --- the SequenceModel interface -------------------------------------------------------------
    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        return dense_scan(self.transition_matrices(), self.B, tokens)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token must lie in [0, {self.vocab_size}), got {token}")
        a_hat = self.transition_matrices()[token]
        return states @ a_hat.t() + self.B[token]

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(states))

    # --- fast training and evaluation -----------------------------------------------------------
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits [B, C] read after the last token (after the appended query token when enabled).

        Strings hold alphabet symbols only (a query id inside a string is rejected): the scan stacks just
        the alphabet's matrices, and the query token is one final step of the same autograd node.
        """
        a_hat = self.transition_matrices()
        if not self.query_token:
            return self.readout(dense_scan(a_hat, self.B, tokens, last_only=True))
        q = self.query_id
        if tokens.shape[1] == 0:  # the empty string: only the query step, from h = 0
            return self.readout(self.B[q].expand(tokens.shape[0], -1))
        return self.readout(dense_scan(a_hat, self.B, tokens, last_only=True, scan_vocab=q, final=q))

    def prefix_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of every prefix [B, L, C] from one scan; the query step is one GEMM per chunk of prefixes.

        Without autograd (evaluation) the states are produced a cache-sized chunk of steps at a time and
        turned into logits straight away, so no [B, L, N] tensor is ever built.
        """
        a_hat = self.transition_matrices()
        batch, length = tokens.shape
        scan_vocab = self.alphabet_size if self.query_token else self.vocab_size
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            states = dense_scan(a_hat, self.B, tokens, scan_vocab=scan_vocab)
            return self.readout(self._query_step(states, a_hat))
        a_scan, b_scan = a_hat[:scan_vocab], self.B[:scan_vocab]
        check_inputs(a_scan, b_scan, tokens)
        logits = torch.empty(length, batch, self.num_classes, dtype=a_hat.dtype, device=a_hat.device)
        if length == 0:
            return logits.transpose(0, 1)
        chunk = max(1, EVAL_CHUNK_ELEMENTS // (batch * self.state_size))
        for first, states in iter_states(a_scan, b_scan, tokens, chunk):  # states: [T*B, N], time-major
            steps = states.shape[0] // batch
            logits[first:first + steps] = self.readout(self._query_step(states, a_hat)).view(steps, batch, -1)
        return logits.transpose(0, 1).contiguous()

    def _query_step(self, states: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        """The query token's step applied to states [..., N] (identity without a query token)."""
        if not self.query_token:
            return states
        q = self.query_id
        if states.dim() == 2:
            return torch.addmm(self.B[q], states, a_hat[q].t())
        return states @ a_hat[q].t() + self.B[q]
