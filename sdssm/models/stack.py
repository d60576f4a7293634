"""`layers: n` for any family: n blocks of the family's recurrence, pre-norm with a residual stream.

As Mamba and PD-SSM stack their blocks, with d = state_size:
  x^0_t = E u_t                                    (token embedding, [V, d])
  h^l   = Layer_l(LayerNorm_l(x^{l-1}))            (the family's recurrence over a continuous input, l = 1..n)
  x^l   = x^{l-1} + W_l h^l                        (W_l: Linear(state_dim_l -> d); an LSTM passes h, not c)
  logits = head(LayerNorm(x^n))                    (the configured readout, linear or MLP)

The SequenceModel contract is kept, so the trainer, both supervisions and prefix evaluation work
unchanged: the stack's state vector at position t is (h^1_t, ..., h^n_t, x^n_t). `step(states, token)`
recomputes every layer's input from the token and the lower layers' new states, and `readout` reads the
x^n slice. Prefix evaluation (SequenceModel.prefix_logits) is then one scan per layer over the string
plus one query step per prefix per layer.

A family's layer (`RecurrentLayer`) lives in the family's own file, with its fast `scan` and a per-step
reference beside it; the stack built on reference layers is the stack's reference.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.readout import make_readout


class RecurrentLayer(nn.Module, ABC):
    """One family's recurrence driven by a continuous input: x [B, L, d] -> states [B, L, state_dim].

    Constructor: (d_model, state_size, **the family's options). The initial state is the layer's own
    (a fixed buffer or zeros); `scan` starts from it, `step` continues from any state.
    """

    @property
    @abstractmethod
    def state_dim(self) -> int:
        """Size of the state vector after each position."""

    @abstractmethod
    def scan(self, x: torch.Tensor) -> torch.Tensor:
        """States after each position: x [B, L, d] -> [B, L, state_dim]. Differentiable."""

    @abstractmethod
    def step(self, states: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One more input per state: states [..., state_dim], x [..., d] -> [..., state_dim]."""

    @property
    def output_dim(self) -> int:
        """Size of what the layer passes up the residual stream (`output`)."""
        return self.state_dim

    def output(self, states: torch.Tensor) -> torch.Tensor:
        """What the next block sees of the states: all of them (an LSTM passes h, not c)."""
        return states


class StackedModel(SequenceModel):
    """`layers` pre-norm residual blocks of `layer` (a RecurrentLayer class) over a token embedding.

    Args: alphabet_size, num_classes, query_token (see SequenceModel); state_size: d, the width of the
    residual stream and each layer's state size; readout, mlp_hidden: the head after the final LayerNorm;
    layers: n >= 1; layer: the family's RecurrentLayer class; layer_options: its own keyword arguments.
    """

    def __init__(self, alphabet_size: int, num_classes: int, query_token: bool, state_size: int, readout: str,
                 mlp_hidden: int, layers: int, layer: type[RecurrentLayer],
                 layer_options: dict[str, Any] | None = None) -> None:
        super().__init__(alphabet_size, num_classes, query_token)
        if layers < 1 or state_size < 1:
            raise ValueError(f"need layers >= 1 and state_size >= 1, got {layers}, {state_size}")
        d = state_size
        self.d_model = d
        self.embedding = nn.Embedding(self.vocab_size, d)
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.layers = nn.ModuleList(layer(d, state_size, **(layer_options or {})) for _ in range(layers))
        self.projections = nn.ModuleList(nn.Linear(block.output_dim, d) for block in self.layers)
        self.final_norm = nn.LayerNorm(d)
        self.head = make_readout(readout, d, num_classes, mlp_hidden)
        self._slices = []  # each layer's slice of the state vector; x^n is the last d entries
        start = 0
        for block in self.layers:
            self._slices.append(slice(start, start + block.state_dim))
            start += block.state_dim
        self._state_dim = start + d

    @property
    def state_dim(self) -> int:
        return self._state_dim

    def scan(self, tokens: torch.Tensor) -> torch.Tensor:
        """One scan per layer: tokens [B, L] -> (h^1, ..., h^n, x^n) [B, L, state_dim]."""
        x = self.embedding(tokens)
        states = []
        for norm, block, projection in zip(self.norms, self.layers, self.projections):
            h = block.scan(norm(x))
            x = x + projection(block.output(h))
            states.append(h)
        return torch.cat([*states, x], dim=-1)

    def step(self, states: torch.Tensor, token: int) -> torch.Tensor:
        """The same token after every state: each layer steps on its input from the layers below."""
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token must lie in [0, {self.vocab_size}), got {token}")
        x = self.embedding.weight[token].expand(*states.shape[:-1], self.d_model)
        new = []
        for part, norm, block, projection in zip(self._slices, self.norms, self.layers, self.projections):
            h = block.step(states[..., part], norm(x))
            x = x + projection(block.output(h))
            new.append(h)
        return torch.cat([*new, x], dim=-1)

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(self.final_norm(states[..., -self.d_model:]))
