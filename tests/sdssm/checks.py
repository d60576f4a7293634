"""Checks shared by the model tests: every prefix from one scan, and a tiny training loop."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sdssm.models import SequenceModel


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
