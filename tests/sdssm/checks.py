"""Checks shared by the model tests: every prefix from one scan, fast path against reference, a stack of
fast layers beside one of reference layers, and a tiny training loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sdssm.models import SequenceModel
from sdssm.models.stack import RecurrentLayer, StackedModel


def fit_briefly(model: SequenceModel, target: Callable[[torch.Tensor], torch.Tensor], *, symbols: int,
                steps: int = 200, lr: float = 1e-2) -> tuple[float, float]:
    """Adam on random length-5 strings over `symbols` symbols; returns the mean loss of the first and
    of the last ten steps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        x = torch.randint(0, symbols, (64, 5), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x), target(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses[:10]) / 10, sum(losses[-10:]) / 10


def assert_prefix_logits_match_forward(model: SequenceModel, tokens: torch.Tensor) -> None:
    """prefix_logits (one scan, query step per prefix) equals forward() run on each prefix separately."""
    batch, length = tokens.shape
    prefix = model.prefix_logits(tokens)
    assert prefix.shape == (batch, length, model.num_classes)
    for t in range(1, length + 1):
        torch.testing.assert_close(prefix[:, t - 1], model(tokens[:, :t]), rtol=1e-10, atol=1e-10)


def assert_fast_path_matches_reference(fast: SequenceModel, reference: SequenceModel, tokens: torch.Tensor, *,
                                       grad_rtol: float = 1e-10, grad_atol: float = 1e-12) -> None:
    """Float64 models with the same parameters: the states of `scan`, the whole-string logits and every
    parameter's gradient of a loss touching every state, every prefix's logits and the last output agree."""
    weight = torch.randn(*tokens.shape, fast.state_dim, generator=torch.Generator().manual_seed(2),
                         dtype=torch.float64)

    def gradients(model: SequenceModel) -> dict[str, torch.Tensor]:
        model.zero_grad()
        loss = ((model.scan(tokens) * weight).sum() + model.prefix_logits(tokens).square().mean()
                + model(tokens).square().mean())
        loss.backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    torch.testing.assert_close(fast.scan(tokens), reference.scan(tokens), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast(tokens), reference(tokens), rtol=1e-12, atol=1e-12)
    fast_grads, reference_grads = gradients(fast), gradients(reference)
    assert set(fast_grads) == set(reference_grads) == {name for name, _ in fast.named_parameters()}
    for name, grad in fast_grads.items():
        torch.testing.assert_close(grad, reference_grads[name], rtol=grad_rtol, atol=grad_atol, msg=name)


def stacked_pair(layer: type[RecurrentLayer], reference_layer: type[RecurrentLayer], *, layers: int,
                 query_token: bool, readout: str = "linear", options: dict[str, Any] | None = None,
                 state_size: int = 4) -> tuple[StackedModel, StackedModel]:
    """Two float64 stacks with the same parameters: one of the family's fast layer, one of its per-step
    reference layer (the stack's reference)."""
    kwargs: dict[str, Any] = dict(alphabet_size=3, num_classes=4, query_token=query_token, state_size=state_size,
                                  readout=readout, mlp_hidden=8, layers=layers, layer_options=options or {})
    torch.manual_seed(0)
    fast = StackedModel(**kwargs, layer=layer).double()
    reference = StackedModel(**kwargs, layer=reference_layer).double()
    reference.load_state_dict(fast.state_dict())
    return fast, reference
