"""A tiny training loop shared by the model tests: does a model learn a trivially learnable target?"""

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
