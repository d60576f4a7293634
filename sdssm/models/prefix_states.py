"""SD-SSM's training node for `supervision: prefixes`: the (query-stepped) state of every prefix.

`PrefixStates` is `LastState`'s sibling (sdssm.py): one autograd node from the raw parameters to the
states that the readout turns into one prediction per prefix,
    out_t = Â_q h_t + b_q   (with a query token q; out_t = h_t without),   t = 0..L-1,
chaining transitions.py, pair_scan.py and dense_scan.py forward and backward by hand. The gradient of
every prefix enters the reverse scan as it passes (`scan_backward` with all states' gradients).

Pairs over a binary alphabet, as in training on the last output: the scan runs over token pairs
(half the sequential steps) and yields every second state; the states in between are one step away from
a pair state, so all of them come from one batched GEMM after the scan (and their gradient from one before
the reverse scan). With o = L mod 2 (a lone first token h_0 = b[u_0] starts the pair scan when L is odd)
and s_j the pair scan's states (s_{-1} its initial state: 0, or h_0 when o = 1),
    h_{o+2j+1} = s_j,     h_{o+2j} = Â[u_{o+2j}] s_{j-1} + b[u_{o+2j}]                j = 0..m-1
Backward, with dH_t = dLoss/dh_t from outside:
    ds_j (from outside the pair scan) = dH_{o+2j+1} + Â[u_{o+2j+2}]^T dH_{o+2j+2}
    ds_{-1}                           += Â[u_o]^T dH_o
    dÂ_v, db_v                        += the sums of dH_{o+2j} s_{j-1}^T and dH_{o+2j} over u_{o+2j} = v
"""

from __future__ import annotations

from typing import Any

import torch

from sdssm.models.dense_scan import forward_weight, gather_rows, outer_sums_by_token, scan_backward, scan_forward
from sdssm.models.pair_scan import pair_ids, pair_tables_backward, pair_tables_forward
from sdssm.models.transitions import transitions_backward, transitions_forward


def step_all(a_hat: torch.Tensor, b_tab: torch.Tensor, states: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """One step for many states at once: states [T, B, N], tokens [T, B] -> Â[u] h + b[u], [T, B, N].
    One GEMM against every token's matrix and a row gather (as `dense_scan.advance` does per step)."""
    steps, batch, n = states.shape
    vocab = a_hat.shape[0]
    y = torch.addmm(b_tab.reshape(-1), states.reshape(-1, n), forward_weight(a_hat))  # [T*B, V*N]
    rows = (tokens.reshape(-1) + torch.arange(steps * batch, device=tokens.device) * vocab)
    return y.view(-1, n).index_select(0, rows).view(steps, batch, n)


def step_all_backward(a_hat: torch.Tensor, grad: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Â[u]^T g for grads [T, B, N] and tokens [T, B]: the gradient `step_all` passes to its input states."""
    steps, batch, n = grad.shape
    vocab = a_hat.shape[0]
    w_back = a_hat.permute(1, 0, 2).reshape(n, vocab * n)  # w_back[i, v*N + j] = Â_v[i, j]
    z = grad.reshape(-1, n) @ w_back
    rows = (tokens.reshape(-1) + torch.arange(steps * batch, device=tokens.device) * vocab)
    return z.view(-1, n).index_select(0, rows).view(steps, batch, n)


class PrefixStates(torch.autograd.Function):
    """Inputs as `LastState`'s: select.weight W [k, V], select.bias [k], the dictionary A [k, N, N],
    B [V, N], tokens [B, L] (L >= 1, values in [0, scan_vocab)), p, scan_vocab, query (id or None),
    in_pairs. Output [L, B, N], time-major: out[t] is the (query-stepped) state after prefix t."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor,
                b_in: torch.Tensor, tokens: torch.Tensor, p: float, scan_vocab: int, query: int | None,
                in_pairs: bool) -> torch.Tensor:
        a_hat, transition_saved = transitions_forward(weight, bias, dictionary, p)
        a_scan, b_scan = a_hat[:scan_vocab], b_in[:scan_vocab]
        length = tokens.shape[1]
        in_pairs = in_pairs and length >= 2
        pair_saved: tuple[torch.Tensor, ...] = ()
        if not in_pairs:
            scan_tokens = tokens
            rows = gather_rows(tokens, scan_vocab)
            scanned = scan_forward(a_scan, b_scan, tokens, rows, None, pooled=False)  # [L+1, B, N]
            states = scanned[1:]
        else:
            mats, biases, pair_saved = pair_tables_forward(a_scan, b_scan)
            odd = length % 2
            initial = b_scan.index_select(0, tokens[:, 0]) if odd else None
            scan_tokens = pair_ids(tokens[:, odd:], scan_vocab)
            rows = gather_rows(scan_tokens, mats.shape[0])
            scanned = scan_forward(mats, biases, scan_tokens, rows, initial, pooled=False)  # [m+1, B, N]
            pair_saved = (*pair_saved, mats)
            states = a_hat.new_empty(length, *scanned.shape[1:])
            if odd:
                states[0] = scanned[0]
            states[odd + 1::2] = scanned[1:]
            states[odd::2] = step_all(a_scan, b_scan, scanned[:-1], tokens[:, odd::2].t())
        if query is not None:
            out = torch.addmm(b_in[query], states.view(-1, states.shape[2]), a_hat[query].t()).view(states.shape)
        else:
            out = states.clone()
        ctx.save_for_backward(a_hat, tokens, scan_tokens, rows, scanned, states, *transition_saved, *pair_saved)
        ctx.n_transition_saved = len(transition_saved)
        ctx.scan_vocab, ctx.query, ctx.in_pairs, ctx.b_shape = scan_vocab, query, in_pairs, b_in.shape
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a_hat, tokens, scan_tokens, rows, scanned, states, *rest = ctx.saved_tensors
        transition_saved, pair_saved = rest[:ctx.n_transition_saved], rest[ctx.n_transition_saved:]
        v, n = ctx.scan_vocab, a_hat.shape[1]
        length = tokens.shape[1]
        grad_a = torch.zeros_like(a_hat)
        grad_b = a_hat.new_zeros(ctx.b_shape)
        grad_states = grad.reshape(-1, n)
        if ctx.query is not None:  # out_t = Â_q h_t + b_q: dÂ_q = sum_t g_t h_t^T, db_q = sum_t g_t, dh_t = Â_q^T g_t
            torch.mm(grad_states.t(), states.view(-1, n), out=grad_a[ctx.query])
            torch.sum(grad_states, dim=0, out=grad_b[ctx.query])
            grad_states = grad_states @ a_hat[ctx.query]
        grad_states = grad_states.view(length, -1, n)  # dH, time-major
        if not ctx.in_pairs:
            scan_backward(a_hat[:v], scan_tokens, rows, scanned, grad_states.transpose(0, 1), False,
                          grad_a[:v], grad_b[:v])
        else:
            *table_saved, mats = pair_saved
            odd = length % 2
            mid_tokens = tokens[:, odd::2].t()  # [m, B]: the tokens that lead into the in-between states
            grad_mid = grad_states[odd::2]
            # The in-between states first (written: grad_a[:v] is still zero), then the pair tables add.
            outer_sums_by_token(mid_tokens, grad_mid.reshape(-1, n), scanned[:-1].reshape(-1, n),
                                grad_a[:v], grad_b[:v])
            into_previous = step_all_backward(a_hat[:v], grad_mid, mid_tokens)  # dLoss/ds_{j-1} via h_{o+2j}
            grad_pairs = grad_states[odd + 1::2].clone()
            grad_pairs[:-1] += into_previous[1:]
            grad_mats, grad_biases = torch.zeros_like(mats), mats.new_zeros(mats.shape[:2])
            grad_initial = torch.empty_like(scanned[0]) if odd else None
            scan_backward(mats, scan_tokens, rows, scanned, grad_pairs.transpose(0, 1), False, grad_mats,
                          grad_biases, grad_initial)
            pair_tables_backward(tuple(table_saved), grad_mats, grad_biases, grad_a[:v], grad_b[:v])
            if grad_initial is not None:
                # h_0 = b[u_0] is a prefix of its own and the pair scan's initial state: db_v += the sum of its
                # total gradient over the samples whose u_0 = v (a GEMM with the one-hot tokens: a fixed
                # summation order on every device).
                grad_initial += grad_states[0] + into_previous[0]
                first = torch.nn.functional.one_hot(tokens[:, 0], v).to(grad_initial.dtype)
                grad_b[:v].addmm_(first.t(), grad_initial)
        grad_weight, grad_bias, grad_dictionary = transitions_backward(tuple(transition_saved), grad_a)
        return grad_weight, grad_bias, grad_dictionary, grad_b, None, None, None, None, None

