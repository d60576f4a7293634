"""Readout heads shared by the model families: linear (the paper's) or a 2-layer ReLU MLP."""

from __future__ import annotations

from torch import nn


def make_readout(kind: str, in_features: int, num_classes: int, mlp_hidden: int = 64) -> nn.Module:
    """`linear`: Linear(in, C). `mlp`: Linear(in, h) -> ReLU -> Linear(h, C), as in the reference code."""
    if kind == "linear":
        return nn.Linear(in_features, num_classes)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_features, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, num_classes))
    raise ValueError(f"readout: {kind!r} is not one of linear, mlp")
