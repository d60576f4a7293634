"""SD-SSM's training node for `supervision: prefixes`: the (query-stepped) state of every prefix.

`PrefixStates` is `LastState`'s sibling (sdssm.py): one autograd node from the raw parameters to the
states that the readout turns into one prediction per prefix,
    out_t = Â_q h_t + b_q   (with a query token q; out_t = h_t without),   t = 0..L-1,
chaining transitions.py and dense_scan.py forward and backward by hand. The gradient of every prefix
enters the reverse scan as it passes (`scan_backward` with all states' gradients):
    g_{L-1} = dH_{L-1},   g_{t-1} = dH_{t-1} + Â[u_t]^T g_t,     dH_t = Â_q^T dOut_t (or dOut_t).

One token a step, never in pairs: scanning pairs of tokens (as `LastState` does over binary alphabets)
yields every second state only, and computing the states in between afterwards measured slower here
(about 1.2-1.4x this node's time at lengths 16-40 on this project's CPU) than the plain scan.
"""

from __future__ import annotations

from typing import Any

import torch

from sdssm.models.dense_scan import gather_rows, scan_backward, scan_forward
from sdssm.models.transitions import transitions_backward, transitions_forward


class PrefixStates(torch.autograd.Function):
    """Inputs as `LastState`'s, without in_pairs: select.weight W [k, V], select.bias [k], the dictionary
    A [k, N, N], B [V, N], tokens [B, L] (L >= 1, values in [0, scan_vocab)), p, scan_vocab, query (id or
    None). Output [L, B, N], time-major: out[t] is the (query-stepped) state after prefix t."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor,
                b_in: torch.Tensor, tokens: torch.Tensor, p: float, scan_vocab: int,
                query: int | None) -> torch.Tensor:
        a_hat, transition_saved = transitions_forward(weight, bias, dictionary, p)
        rows = gather_rows(tokens, scan_vocab)
        scanned = scan_forward(a_hat[:scan_vocab], b_in[:scan_vocab], tokens, rows, None, pooled=False)
        states = scanned[1:]  # [L, B, N]; slab 0 of `scanned` is h_{-1} = 0
        if query is not None:
            out = torch.addmm(b_in[query], states.view(-1, states.shape[2]), a_hat[query].t()).view(states.shape)
        else:
            out = states.clone()
        ctx.save_for_backward(a_hat, tokens, rows, scanned, *transition_saved)
        ctx.scan_vocab, ctx.query, ctx.b_shape = scan_vocab, query, b_in.shape
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a_hat, tokens, rows, scanned, *transition_saved = ctx.saved_tensors
        v, n = ctx.scan_vocab, a_hat.shape[1]
        grad_a = torch.zeros_like(a_hat)
        grad_b = a_hat.new_zeros(ctx.b_shape)
        grad_states = grad.reshape(-1, n)
        if ctx.query is not None:  # out_t = Â_q h_t + b_q: dÂ_q = sum_t g_t h_t^T, db_q = sum_t g_t, dh_t = Â_q^T g_t
            torch.mm(grad_states.t(), scanned[1:].reshape(-1, n), out=grad_a[ctx.query])
            torch.sum(grad_states, dim=0, out=grad_b[ctx.query])
            grad_states = grad_states @ a_hat[ctx.query]
        grad_states = grad_states.view(tokens.shape[1], -1, n)  # dH, time-major
        scan_backward(a_hat[:v], tokens, rows, scanned, grad_states.transpose(0, 1), False, grad_a[:v], grad_b[:v])
        grad_weight, grad_bias, grad_dictionary = transitions_backward(tuple(transition_saved), grad_a)
        return grad_weight, grad_bias, grad_dictionary, grad_b, None, None, None, None
