"""SD-SSM's transition matrices: Â_v = colnorm_p(sum_i softmax(W e_v + b)_i A_i), for every token v at once.

Â depends on the token alone, so one forward pass needs only the V matrices of the vocabulary, built
here in one go from select.weight W [k, V], select.bias b [k] and the dictionary A [k, N, N]:
    S = softmax(W^T + b)  [V, k],    M = S A  [V, N, N],    n_j = ||M_:j||_p,    Â = M / n
Backward, with G = dLoss/dÂ (derivation: dn_j/dM_ij = n_j^(1-p) R_ij, R = sign(M) |M|^(p-1)):
    column normalisation  dM_ij = G_ij / n_j - R_ij c_j / n_j^p,     c_j = sum_i G_ij Â_ij
                          (c_j / n_j^p = 0 for an all-zero column: the clamp passes no gradient to n)
    mixture               dA = S^T dM,   dS = dM A^T
    softmax               dlogits = S * (dS - sum_k S dS),   dW = dlogits^T,   db = sum_v dlogits
R is computed as |M|^p / M (0 where M = 0, the subgradient torch uses for |x| at 0).

`transitions_forward` / `transitions_backward` are plain functions so that the model's fused training
node (sdssm.py) can call them; `TransitionMatrices` wraps them as an autograd node of its own.
"""

from __future__ import annotations

from typing import Any

import torch

# The original divides by the column norm with no epsilon. A column of exact zeros would give 0/0, so the
# norm is clamped from below at this value; it never binds for any column with a nonzero entry that
# matters (a norm of 1e-30 is far below anything a trained or initialised dictionary produces).
NORM_FLOOR = 1e-30

Saved = tuple[torch.Tensor, ...]


def lp_pow(x: torch.Tensor, p: float) -> torch.Tensor:
    """|x|^p elementwise for p >= 1. exp(p log|x|) is several times faster than pow with a fractional
    exponent on CPU (log 0 = -inf gives exp(-inf) = 0, no special case needed)."""
    if p == 1.0:
        return x.abs()
    if p == 2.0:
        return x * x
    return torch.exp(torch.log(x.abs()).mul_(p))


def transitions_forward(weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor, p: float
                        ) -> tuple[torch.Tensor, Saved]:
    """Â [V, N, N] and what `transitions_backward` needs."""
    k, n = dictionary.shape[0], dictionary.shape[1]
    selection = torch.softmax(weight.t() + bias, dim=-1)  # row v: softmax(W e_v + b)
    mixed = (selection @ dictionary.reshape(k, n * n)).view(-1, n, n)
    powered = lp_pow(mixed, p)
    col_power = powered.sum(dim=-2, keepdim=True)  # n_j^p, [V, 1, N]
    clamped = col_power.pow(1.0 / p).clamp_min(NORM_FLOOR)  # n_j
    out = mixed / clamped
    return out, (selection, dictionary, mixed, powered, out, clamped, col_power)


def transitions_backward(saved: Saved, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dW [k, V], db [k], dA [k, N, N]) from dLoss/dÂ; see the module docstring."""
    selection, dictionary, mixed, powered, out, clamped, col_power = saved
    k, n = dictionary.shape[0], dictionary.shape[1]
    # c_j / n_j^p; an all-zero column gives 0/0, set to 0 (no gradient through a clamped norm). A column
    # whose norm is nonzero but below the floor would get the unclamped derivative here; such columns lie
    # below float32's normal range (n^p < 1e-30 for p >= 1) and do not arise in practice.
    coef = (torch.linalg.vecdot(grad, out, dim=-2).unsqueeze(-2) / col_power).nan_to_num_(0.0, 0.0, 0.0)
    ratio = torch.div(powered, mixed).nan_to_num_(0.0)  # R = sign(M) |M|^(p-1), 0 where M = 0
    d_mixed = torch.addcmul(grad / clamped, ratio, coef, value=-1.0).view(-1, n * n)
    d_dictionary = (selection.t() @ d_mixed).view(k, n, n)
    d_selection = d_mixed @ dictionary.reshape(k, n * n).t()
    d_logits = selection * (d_selection - (selection * d_selection).sum(dim=-1, keepdim=True))
    return d_logits.t(), d_logits.sum(dim=0), d_dictionary


class TransitionMatrices(torch.autograd.Function):
    """Â from (W [k, V], b [k], A [k, N, N], p) as one autograd node; see the module docstring."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor,
                p: float) -> torch.Tensor:
        out, saved = transitions_forward(weight, bias, dictionary, p)
        ctx.save_for_backward(*saved)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        return (*transitions_backward(ctx.saved_tensors, grad), None)


def transition_matrices(weight: torch.Tensor, bias: torch.Tensor, dictionary: torch.Tensor,
                        p: float) -> torch.Tensor:
    """Â [V, N, N] from select.weight [k, V], select.bias [k] and the dictionary [k, N, N]."""
    return TransitionMatrices.apply(weight, bias, dictionary, p)
