"""SD-SSM (selective dense state-space model), the fast path.

Per token u_t (one-hot over the vocabulary V = alphabet [+ query token]):
  s_t    = softmax(W u_t + b)                       selection weights over a dictionary of k matrices
  A(u_t) = colnorm_p(sum_i s_t,i A_i)               every column divided by its L_p norm
  h_t    = A(u_t) h_{t-1} + B u_t,   h_{-1} = 0
  y      = C LayerNorm(h_t) + c                      (or an MLP head), read at the last position

A(u) depends on the token alone, so one forward pass needs only the V matrices Â_v = A(e_v), built once
per pass (transitions.py); the recurrence then runs through `dense_scan` (dense_scan.py), a loop of one
GEMM and one gather per step with a hand-written backward.
  - Training (`forward`) reads one output per string. `LastState` is one autograd node from the raw
    parameters to the state after the query step: transitions, the scan over the alphabet's matrices
    (in pairs of tokens over a binary alphabet, pair_scan.py) and the query step, forward and backward
    by hand. At these sizes a step costs about as much in per-call and per-node overhead as in
    arithmetic, which is why the pieces are fused rather than chained through autograd.
  - Training on every prefix (`prefix_logits` with autograd) reads every prefix from one scan through
    `PrefixStates` (prefix_states.py), the same fused node for the states of all prefixes.
  - Evaluation (`prefix_logits` without autograd) reads every prefix from one scan, a chunk at a time.
`ReferenceSDSSM` (sdssm_reference.py) is the same model computed per sample and per step straight from
the equations; the parameter names match, so a state dict moves between the two, and tests hold the two
together in float64.

Parameters: `select` (nn.Linear(V, k): W and b), `A` [k, N, N] (the dictionary), `B` [V, N] (row v is
B e_v, i.e. the transposed weight of a bias-free Linear(V, N)), `norm` (LayerNorm(N)), `head` (readout).

`SDSSMLayer` is the same recurrence over a continuous input, the block `layers: n` stacks
(sdssm/models/stack.py); `ReferenceSDSSMLayer` (sdssm_reference.py) is its per-sample, per-step loop.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.dense_scan import (check_inputs, check_tokens, dense_scan, gather_rows, iter_states,
                                     scan_backward, scan_forward)
from sdssm.models.prefix_states import PrefixStates
from sdssm.models.pair_scan import pair_ids, pair_tables_backward, pair_tables_forward, pairs_pay_off
from sdssm.models.readout import make_readout
from sdssm.models.stack import RecurrentLayer
from sdssm.models.transitions import NORM_FLOOR, transition_matrices, transitions_backward, transitions_forward

# Evaluation produces states in chunks of about this many floats (256K = 1 MiB in float32: one L2 cache).
EVAL_CHUNK_ELEMENTS = 1 << 18


class LastState(torch.autograd.Function):
    """The state after the string and the query step, from the raw parameters, as one autograd node.

    Inputs: select.weight W [k, V], select.bias [k], the dictionary A [k, N, N], B [V, N], tokens [B, L]
    (values in [0, scan_vocab)), p, scan_vocab, query (the query token's id, or None for no query step),
    in_pairs (scan two tokens at a time; ignored below 2 tokens). Output h [B, N]: h_{L-1}, or
    Â_q h_{L-1} + b_q with a query.
    Forward and backward chain transitions.py, pair_scan.py and dense_scan.py by hand.
    """

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor,
                b_in: torch.Tensor, tokens: torch.Tensor, p: float, scan_vocab: int, query: int | None,
                in_pairs: bool) -> torch.Tensor:
        a_hat, transition_saved = transitions_forward(weight, bias, dictionary, p)
        a_scan, b_scan = a_hat[:scan_vocab], b_in[:scan_vocab]
        length = tokens.shape[1]
        in_pairs = in_pairs and length >= 2
        pair_saved: tuple[torch.Tensor, ...] = ()
        states = None
        if length == 0:
            last = a_hat.new_zeros(tokens.shape[0], a_hat.shape[1])  # h_{-1}
            scan_tokens = rows = tokens
        else:
            initial = None
            scan_tokens, mats, biases = tokens, a_scan, b_scan
            if in_pairs:
                mats, biases, pair_saved = pair_tables_forward(a_scan, b_scan)
                odd = length % 2
                if odd:  # a lone first token: h_0 = b[u_0]
                    initial = b_scan.index_select(0, tokens[:, 0])
                scan_tokens = pair_ids(tokens[:, odd:], scan_vocab)
                pair_saved = (*pair_saved, mats)
            rows = gather_rows(scan_tokens, mats.shape[0])
            # A fresh tensor, not a WORKSPACE buffer: at training lengths (< 2 MB) the allocator serves it
            # from freed memory, and no finalizer is needed to hand it back (measured faster).
            states = scan_forward(mats, biases, scan_tokens, rows, initial, pooled=False)
            last = states[-1]
        out = torch.addmm(b_in[query], last, a_hat[query].t()) if query is not None else last.clone()
        ctx.save_for_backward(a_hat, tokens, scan_tokens, rows, last, *transition_saved, *pair_saved)
        ctx.states, ctx.n_transition_saved = states, len(transition_saved)
        ctx.scan_vocab, ctx.query, ctx.in_pairs, ctx.b_shape = scan_vocab, query, in_pairs, b_in.shape
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a_hat, tokens, scan_tokens, rows, last, *rest = ctx.saved_tensors
        transition_saved, pair_saved = rest[:ctx.n_transition_saved], rest[ctx.n_transition_saved:]
        v = ctx.scan_vocab
        grad_a = torch.zeros_like(a_hat)
        grad_b = a_hat.new_zeros(ctx.b_shape)
        if ctx.query is not None:  # out = Â_q h + b_q: dÂ_q = g h^T, db_q = sum g, dh = Â_q^T g
            torch.mm(grad.t(), last, out=grad_a[ctx.query])
            torch.sum(grad, dim=0, out=grad_b[ctx.query])
            grad = grad @ a_hat[ctx.query]
        if ctx.states is not None and not ctx.in_pairs:
            scan_backward(a_hat[:v], scan_tokens, rows, ctx.states, grad, True, grad_a[:v], grad_b[:v])
        elif ctx.states is not None:
            *table_saved, mats = pair_saved
            grad_mats, grad_biases = torch.zeros_like(mats), mats.new_zeros(mats.shape[:2])
            odd = tokens.shape[1] % 2
            grad_initial = torch.empty_like(last) if odd else None
            scan_backward(mats, scan_tokens, rows, ctx.states, grad, True, grad_mats, grad_biases, grad_initial)
            pair_tables_backward(tuple(table_saved), grad_mats, grad_biases, grad_a[:v], grad_b[:v])
            if grad_initial is not None:
                # h_0 = b[u_0]: db_v += the sum of grad_initial over the samples whose u_0 = v (as a GEMM
                # with the one-hot tokens: a fixed summation order on every device, unlike index_add_).
                first = torch.nn.functional.one_hot(tokens[:, 0], v).to(grad_initial.dtype)
                grad_b[:v].addmm_(first.t(), grad_initial)
        grad_weight, grad_bias, grad_dictionary = transitions_backward(tuple(transition_saved), grad_a)
        return grad_weight, grad_bias, grad_dictionary, grad_b, None, None, None, None, None


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

        Strings hold string symbols only (a query id inside a string is rejected): the scan multiplies by
        those symbols' matrices alone, in pairs over a binary alphabet, all inside `LastState`.
        """
        scan_vocab = self.alphabet_size if self.query_token else self.vocab_size
        if tokens.shape[1] == 0 and not self.query_token:
            raise ValueError("an empty string has no output without a query token")
        check_tokens(tokens, scan_vocab)
        query = self.query_id if self.query_token else None
        states = LastState.apply(self.select.weight, self.select.bias, self.A, self.B, tokens, self.p,
                                 scan_vocab, query, pairs_pay_off(scan_vocab, tokens.shape[1]))
        return self.readout(states)

    def prefix_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of every prefix [B, L, C] from one scan; the query step is one GEMM per chunk of prefixes.

        With autograd (training on every prefix) the states come from the fused `PrefixStates` node, time-major;
        the result is a [B, L, C] view of [L, B, C] logits. Without autograd (evaluation) the states are
        produced a cache-sized chunk of steps at a time and turned into logits straight away, so no
        [B, L, N] tensor is ever built.
        """
        batch, length = tokens.shape
        scan_vocab = self.alphabet_size if self.query_token else self.vocab_size
        if length and torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            check_tokens(tokens, scan_vocab)
            query = self.query_id if self.query_token else None
            states = PrefixStates.apply(self.select.weight, self.select.bias, self.A, self.B, tokens, self.p,
                                        scan_vocab, query)
            return self.readout(states).transpose(0, 1)
        a_hat = self.transition_matrices()
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
        """The query token's step applied to states [R, N] (identity without a query token)."""
        if not self.query_token:
            return states
        return torch.addmm(self.B[self.query_id], states, a_hat[self.query_id].t())


class SDSSMLayer(RecurrentLayer):
    """SD-SSM's recurrence over a continuous input x_t in R^d, for `layers` > 1 (stack.py):

        s_t = softmax(W x_t + b),   A_t = colnorm_p(sum_i s_t,i A_i),   h_t = A_t h_{t-1} + B x_t,   h_{-1} = 0,

    W, b a Linear(d, k), B a bias-free Linear(d, N), the dictionary A [k, N, N] initialised as the token
    model's. A_t now differs at every position, so no [V, N, N] table exists: the fast path builds the
    batch's B matrices of one step with one GEMM (selection weights times the flattened dictionary),
    normalises their columns and applies them with one batched matrix-vector product (`baddbmm`), under
    autograd. State h, N reals.
    """

    def __init__(self, d_model: int, state_size: int, k: int = 8, p: float = 1.2) -> None:
        super().__init__()
        if k < 1 or state_size < 1 or not p >= 1.0:
            raise ValueError(f"need k >= 1, state_size >= 1, p >= 1; got k={k}, state_size={state_size}, p={p}")
        self.k, self.p, self.state_size = k, float(p), state_size
        self.select = nn.Linear(d_model, k)
        self.A = nn.Parameter(torch.empty(k, state_size, state_size))
        self.B = nn.Linear(d_model, state_size, bias=False)
        bound_a = math.sqrt(6.0) / math.sqrt(2.0 * state_size)
        with torch.no_grad():
            self.A.uniform_(-bound_a, bound_a)

    @property
    def state_dim(self) -> int:
        return self.state_size

    def _transitions(self, weights: torch.Tensor) -> torch.Tensor:
        """A_t [R, N, N] from selection weights [R, k]: the mixture, then each column over its L_p norm."""
        n = self.state_size
        mixed = (weights @ self.A.view(self.k, n * n)).view(-1, n, n)
        norms = mixed.abs().pow(self.p).sum(dim=1, keepdim=True).pow(1.0 / self.p)
        return mixed / norms.clamp_min(NORM_FLOOR)

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        weights = torch.softmax(self.select(x), dim=-1)  # [B, L, k]
        inputs = self.B(x)  # [B, L, N]
        h = x.new_zeros(batch, self.state_size, 1)
        states = []
        for t in range(length):
            h = torch.baddbmm(inputs[:, t, :, None], self._transitions(weights[:, t]), h)
            states.append(h[..., 0])
        return torch.stack(states, dim=1) if states else x.new_zeros(batch, 0, self.state_size)

    def step(self, states: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        lead = states.shape[:-1]
        a = self._transitions(torch.softmax(self.select(x), dim=-1).reshape(-1, self.k))
        h = torch.baddbmm(self.B(x).reshape(-1, self.state_size, 1), a, states.reshape(-1, self.state_size, 1))
        return h.view(*lead, self.state_size)
