"""ElmanRNN and LSTMModel: scan / step / prefix evaluation agree, gradients reach every parameter,
and both train; RNNLayer and LSTMLayer (layers > 1) against their per-step references at 1 and 2 layers."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from sdssm.models.base import SequenceModel
from sdssm.models.recurrent import (ElmanRNN, LSTMLayer, LSTMModel, ReferenceLSTMLayer, ReferenceRNNLayer,
                                    RNNLayer)
from tests.sdssm.checks import (assert_fast_path_matches_reference, assert_prefix_logits_match_forward, fit_briefly,
                                stacked_pair)

FAMILIES = [ElmanRNN, LSTMModel]
VARIANTS = list(itertools.product(FAMILIES, ["linear", "mlp"], [True, False]))  # family, readout, query


def make(family: type[SequenceModel], readout: str = "linear", query_token: bool = True,
         alphabet_size: int = 3, num_classes: int = 5, state_size: int = 8, seed: int = 0) -> SequenceModel:
    torch.manual_seed(seed)
    return family(alphabet_size=alphabet_size, num_classes=num_classes, query_token=query_token,
                  state_size=state_size, readout=readout, mlp_hidden=16)


def tokens_for(model: SequenceModel, batch: int, length: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.alphabet_size, (batch, length), generator=g)


def reference_states(model: SequenceModel, tokens: torch.Tensor) -> torch.Tensor:
    """The states from torch's own cells, one step at a time, sharing the layer's weights."""
    layer = model.rnn if isinstance(model, ElmanRNN) else model.lstm
    cell = (nn.RNNCell if isinstance(model, ElmanRNN) else nn.LSTMCell)(model.vocab_size, model.state_size)
    cell = cell.to(layer.weight_ih_l0.dtype)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(cell, name, getattr(layer, name + "_l0"))
    x = torch.nn.functional.one_hot(tokens, model.vocab_size).to(layer.weight_ih_l0.dtype)
    h = torch.zeros(tokens.shape[0], model.state_size, dtype=x.dtype)
    c = torch.zeros_like(h)
    out = []
    for t in range(tokens.shape[1]):
        if isinstance(model, ElmanRNN):
            h = cell(x[:, t], h)
            out.append(h)
        else:
            h, c = cell(x[:, t], (h, c))
            out.append(torch.cat([h, c], dim=-1))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("family", FAMILIES)
def test_scan_shapes_and_matches_torch_cells(family: type[SequenceModel]) -> None:
    model = make(family).double()
    x = tokens_for(model, batch=4, length=20)
    x[:, -1] = model.query_id
    states = model.scan(x)
    expected_dim = 8 if family is ElmanRNN else 16
    assert model.state_dim == expected_dim and states.shape == (4, 20, expected_dim)
    torch.testing.assert_close(states, reference_states(model, x), rtol=1e-10, atol=1e-10)
    assert model.readout(states).shape == (4, 20, 5)
    assert model(x).shape == (4, 5)


@pytest.mark.parametrize("family, readout, query_token", VARIANTS)
def test_prefix_logits_equal_forward_on_each_prefix(family: type[SequenceModel], readout: str,
                                                    query_token: bool) -> None:
    model = make(family, readout, query_token).double()
    assert_prefix_logits_match_forward(model, tokens_for(model, batch=3, length=12))


@pytest.mark.parametrize("family", FAMILIES)
def test_step_continues_a_scan(family: type[SequenceModel]) -> None:
    model = make(family).double()
    x = tokens_for(model, batch=5, length=9)
    for token in (0, 1, 2, model.query_id):
        x[:, -1] = token
        stepped = model.step(model.scan(x[:, :-1])[:, -1], token)
        torch.testing.assert_close(stepped, model.scan(x)[:, -1], rtol=1e-10, atol=1e-10)
    states = model.scan(x)
    assert model.step(states, 0).shape == states.shape  # any leading shape


@pytest.mark.parametrize("family, readout, query_token", VARIANTS)
def test_gradients_reach_every_parameter(family: type[SequenceModel], readout: str, query_token: bool) -> None:
    model = make(family, readout, query_token).double()
    x = tokens_for(model, batch=4, length=10)
    loss = model(x).square().mean() + model.prefix_logits(x).square().mean() + model.scan(x).square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("family", FAMILIES)
def test_trains_on_a_trivial_task(family: type[SequenceModel]) -> None:
    # Predict the first symbol of a length-5 string, read at the query token.
    model = make(family, query_token=True, alphabet_size=3, num_classes=3, state_size=16)
    early, late = fit_briefly(model, lambda x: x[:, 0], symbols=3)
    assert late < 0.1 and late < 0.2 * early, (early, late)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("family", FAMILIES)
def test_cuda_matches_cpu(family: type[SequenceModel]) -> None:
    model = make(family).double()
    x = tokens_for(model, batch=4, length=40)
    cpu = model.prefix_logits(x)
    torch.testing.assert_close(model.cuda().prefix_logits(x.cuda()).cpu(), cpu)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("query_token", [True, False])
@pytest.mark.parametrize("layer, reference", [(RNNLayer, ReferenceRNNLayer), (LSTMLayer, ReferenceLSTMLayer)])
def test_stacked_layers_match_the_per_step_reference_in_float64(layer: type, reference: type, layers: int,
                                                                 query_token: bool) -> None:
    fast, ref = stacked_pair(layer, reference, layers=layers, query_token=query_token)
    tokens = torch.randint(0, 3, (4, 11), generator=torch.Generator().manual_seed(1))
    assert_fast_path_matches_reference(fast, ref, tokens)
    assert_prefix_logits_match_forward(fast, tokens[:, :7])
