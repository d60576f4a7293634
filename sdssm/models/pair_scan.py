"""Scanning a string two tokens at a time: the transition and bias of every token pair.

A pair of tokens (u, v) acts on the state as one affine map (h -> Â_v (Â_u h + b_u) + b_v):
    P_(u,v) = Â_v Â_u,      c_(u,v) = Â_v b_u + b_v
so a string over V symbols is also a string of pairs over V^2 symbols. When only the last state is read
(training), `dense_scan` can run over pairs instead of tokens:
  - it takes L/2 sequential steps instead of L; at this project's sizes part of a step's cost is the fixed
    cost of its calls (one GEMM and one gather forward, the same backward);
  - each step's GEMM multiplies by V^2 matrices instead of V: V/2 times the arithmetic per token, while
    the gradient of the matrices is accumulated over L/2 positions instead of L.
For V = 2 the GEMMs do the same arithmetic per token, the gradient accumulation half of it, and the calls
are halved; for V = 3 the GEMMs would do 1.5 times the work. `pairs_pay_off` encodes that rule, and the
length from which the fixed cost of the tables is repaid.

A string of odd length starts with a lone token: h_0 = b_{u_0} (h_{-1} = 0) becomes the initial state of
the scan over the remaining pairs. The tables are built and differentiated by hand (one GEMM each way
for all V^2 products) because the model's fused training node (sdssm.py) calls them.
"""

from __future__ import annotations

import torch

PairSaved = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


# Building and differentiating the pair tables costs about as much as 2-3 single steps on this project's
# CPU (~0.25 ms), against about a fifth of a step (~20 us) saved per token: pairs pay from about 13 tokens.
MIN_PAIR_LENGTH = 14


def pairs_pay_off(vocab: int, length: int) -> bool:
    """Whether to scan a string of `length` tokens over `vocab` symbols in pairs: only for V = 2 (see the
    module docstring) and strings of at least MIN_PAIR_LENGTH tokens."""
    return vocab == 2 and length >= MIN_PAIR_LENGTH


def pair_ids(tokens: torch.Tensor, vocab: int) -> torch.Tensor:
    """[B, 2m] tokens -> [B, m] pair ids u*V + v of (tokens[:, 2i], tokens[:, 2i+1])."""
    return tokens[:, 0::2] * vocab + tokens[:, 1::2]


def pair_tables_forward(a_hat: torch.Tensor, b_tab: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor, PairSaved]:
    """P [V^2, N, N] and c [V^2, N], pair id u*V + v, and what `pair_tables_backward` needs.

    With the rows of Â stacked (A_rows = [Â_0; ...; Â_{V-1}], [V*N, N]) and their columns side by side
    (A_cols = [Â_0 | ... | Â_{V-1}], [N, V*N]):
        X = A_rows A_cols,   block (v, u) of X is Â_v Â_u          one GEMM for all V^2 products
        Q = A_rows b^T,      column u, block v is Â_v b_u
    """
    vocab, n, _ = a_hat.shape
    a_rows = a_hat.reshape(vocab * n, n)
    a_cols = a_hat.permute(1, 0, 2).reshape(n, vocab * n)
    products = a_rows @ a_cols  # [(v, i), (u, j)]
    mats = products.view(vocab, n, vocab, n).permute(2, 0, 1, 3).reshape(vocab * vocab, n, n)
    moved = a_rows @ b_tab.t()  # [(v, i), u] = (Â_v b_u)_i
    biases = (moved.view(vocab, n, vocab).permute(2, 0, 1) + b_tab).reshape(vocab * vocab, n)
    return mats, biases, (a_rows, a_cols, b_tab)


def pair_tables_backward(saved: PairSaved, grad_mats: torch.Tensor, grad_biases: torch.Tensor,
                         grad_a: torch.Tensor, grad_b: torch.Tensor) -> None:
    """Accumulate dÂ into grad_a [V, N, N] and db into grad_b [V, N] from dP and dc. With dX and dQ being
    dP and dc in the layouts of X and Q:
        dA_rows = dX A_cols^T + dQ b,   dA_cols = A_rows^T dX,   db = dQ^T A_rows + sum_u dc_(u, .)
    """
    a_rows, a_cols, b_tab = saved
    vocab, n = b_tab.shape
    d_products = grad_mats.view(vocab, vocab, n, n).permute(1, 2, 0, 3).reshape(vocab * n, vocab * n)
    grad_pairs = grad_biases.view(vocab, vocab, n)  # [u, v, i]
    d_moved = grad_pairs.permute(1, 2, 0).reshape(vocab * n, vocab)  # [(v, i), u]
    d_rows = torch.addmm(d_products @ a_cols.t(), d_moved, b_tab)
    d_cols = a_rows.t() @ d_products  # [j, (u, k)]
    grad_a.add_(d_rows.view(vocab, n, n)).add_(d_cols.view(n, vocab, n).permute(1, 0, 2))
    grad_b.add_(grad_pairs.sum(dim=0)).addmm_(d_moved.t(), a_rows)
