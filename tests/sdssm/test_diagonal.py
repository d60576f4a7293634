"""DiagonalSSM: the closed-form scan against the per-step reference, unit-circle dynamics, prefix
evaluation, and that it trains; DiagonalLayer (layers > 1) against its per-step reference at 1 and 2
layers."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from sdssm.models.diagonal import DiagonalLayer, DiagonalSSM, ReferenceDiagonalLayer
from tests.sdssm.checks import (assert_fast_path_matches_reference, assert_prefix_logits_match_forward, fit_briefly,
                                stacked_pair)

VARIANTS = list(itertools.product([True, False], ["linear", "mlp"], [True, False]))  # use_b, readout, query


def make(use_b: bool = True, readout: str = "linear", query_token: bool = True, alphabet_size: int = 3,
         num_classes: int = 5, state_size: int = 8, seed: int = 0) -> DiagonalSSM:
    torch.manual_seed(seed)
    return DiagonalSSM(use_b=use_b, alphabet_size=alphabet_size, num_classes=num_classes,
                       query_token=query_token, state_size=state_size, readout=readout, mlp_hidden=16)


def tokens_for(model: DiagonalSSM, batch: int, length: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.alphabet_size, (batch, length), generator=g)


def grads(model: DiagonalSSM, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("use_b, readout, query_token", VARIANTS)
def test_scan_matches_reference_values_and_gradients(use_b: bool, readout: str, query_token: bool) -> None:
    model = make(use_b, readout, query_token).double()
    x = tokens_for(model, batch=4, length=30)
    if query_token:  # exercise the query token's row of every table too
        x[:, -1] = model.query_id
    fast, ref = model.scan(x), model.scan_reference(x)
    assert fast.shape == ref.shape == (4, 30, model.state_dim)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)

    # forward() has its own last-state-only path.
    with_query = torch.cat([x, torch.full_like(x[:, :1], model.query_id)], dim=1) if query_token else x
    torch.testing.assert_close(model(x), model.readout(model.scan_reference(with_query)[:, -1]),
                               rtol=1e-10, atol=1e-10)

    # A loss touching every state, the readout and forward().
    weight = torch.randn(fast.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    g_fast = grads(model, (model.scan(x) * weight).sum() + model.readout(model.scan(x)).square().mean()
                   + model(x).square().mean())
    g_ref = grads(model, (model.scan_reference(x) * weight).sum()
                  + model.readout(model.scan_reference(x)).square().mean()
                  + model.readout(model.scan_reference(with_query)[:, -1]).square().mean())
    names = {n for n, _ in model.named_parameters()}
    assert set(g_fast) == set(g_ref) == names
    for name in names:
        assert torch.isfinite(g_fast[name]).all(), name
        torch.testing.assert_close(g_fast[name], g_ref[name], rtol=1e-8, atol=1e-9, msg=name)


@pytest.mark.parametrize("use_b", [True, False])
def test_float32_scan_is_as_accurate_as_the_float32_loop_at_length_500(use_b: bool) -> None:
    # In float32 the [V, N] lambda table itself is rounded, and that error compounds with the count of
    # each symbol in any implementation; the closed form (phases summed in float64) must add nothing.
    model = make(use_b)
    x = tokens_for(model, batch=4, length=500)
    with torch.no_grad():
        fast, loop = model.scan(x).double(), model.scan_reference(x).double()
        exact = copy.deepcopy(model).double().scan_reference(x)
    scale = exact.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)
    fast_err, loop_err = ((fast - exact).abs() / scale).max(), ((loop - exact).abs() / scale).max()
    assert fast_err < 1e-3
    assert fast_err < 2 * loop_err + 1e-6


def test_without_b_constant_input_stays_on_the_unit_circle() -> None:
    model = make(use_b=False, query_token=False).double()
    for symbol in range(model.alphabet_size):
        x = torch.full((2, 200), symbol)
        for states in (model.scan(x), model.scan_reference(x)):
            re, im = states[..., : model.state_size], states[..., model.state_size:]
            torch.testing.assert_close(re.square() + im.square(), torch.ones_like(re), rtol=0, atol=1e-12)
        # ... and it is a pure rotation: h_t = lambda^t h_0.
        lam = torch.complex(*(t[symbol] for t in model.lambda_table()))
        h0 = torch.complex(model.h0[: model.state_size], model.h0[model.state_size:])
        expected = lam ** torch.arange(1, 201, dtype=torch.float64)[:, None] * h0
        torch.testing.assert_close(states[0], torch.cat([expected.real, expected.imag], dim=-1))


@pytest.mark.parametrize("use_b, readout, query_token", VARIANTS)
def test_prefix_logits_equal_forward_on_each_prefix(use_b: bool, readout: str, query_token: bool) -> None:
    model = make(use_b, readout, query_token).double()
    assert_prefix_logits_match_forward(model, tokens_for(model, batch=3, length=12))


@pytest.mark.parametrize("use_b", [True, False])
def test_step_continues_a_scan(use_b: bool) -> None:
    model = make(use_b).double()
    x = tokens_for(model, batch=5, length=9)
    states = model.scan(x)
    for t in range(1, 9):
        torch.testing.assert_close(model.step(states[:, t - 1], int(x[0, t]))[:1], states[:1, t])
    # step works on any leading shape
    assert model.step(states, 0).shape == states.shape


def test_parameters_and_buffer() -> None:
    with_b, without_b = make(use_b=True), make(use_b=False)
    assert with_b.b_re is not None and with_b.b_re.shape == (with_b.vocab_size, 8)
    assert without_b.b_re is None and "b_re" not in dict(without_b.named_parameters())
    assert "h0_phase" in with_b.state_dict()  # fixed, saved, not trained
    assert not any("h0" in n for n, _ in with_b.named_parameters())
    torch.testing.assert_close(with_b.h0[:8] ** 2 + with_b.h0[8:] ** 2, torch.ones(8))
    assert with_b.state_dim == 16


@pytest.mark.parametrize("use_b", [True, False])
def test_trains_on_a_trivial_task(use_b: bool) -> None:
    # The count of 1s mod 2 on length-5 strings: commutative, so solvable by a diagonal model with or
    # without B (a first-token task is not, without B: the state depends only on the symbol counts).
    model = make(use_b, query_token=True, alphabet_size=2, num_classes=2, state_size=16)
    early, late = fit_briefly(model, lambda x: x.sum(dim=1) % 2, symbols=2)
    assert late < 0.1 and late < 0.2 * early, (early, late)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    model = make().double()
    x = tokens_for(model, batch=4, length=40)
    cpu = model.prefix_logits(x)
    torch.testing.assert_close(model.cuda().prefix_logits(x.cuda()).cpu(), cpu)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("use_b, query_token", list(itertools.product([True, False], [True, False])))
def test_stacked_layers_match_the_per_step_reference_in_float64(layers: int, use_b: bool,
                                                                 query_token: bool) -> None:
    fast, reference = stacked_pair(DiagonalLayer, ReferenceDiagonalLayer, layers=layers, query_token=query_token,
                                   options={"use_b": use_b})
    tokens = torch.randint(0, 3, (4, 13), generator=torch.Generator().manual_seed(1))
    assert_fast_path_matches_reference(fast, reference, tokens, grad_rtol=1e-9, grad_atol=1e-10)
    assert_prefix_logits_match_forward(fast, tokens[:, :7])


def test_a_stacked_layer_without_b_stays_on_the_unit_circle() -> None:
    fast, _ = stacked_pair(DiagonalLayer, ReferenceDiagonalLayer, layers=2, query_token=False,
                           options={"use_b": False})
    states = fast.scan(torch.randint(0, 3, (2, 300), generator=torch.Generator().manual_seed(5)))
    for layer in range(2):
        h = states[..., 8 * layer: 8 * layer + 8]
        torch.testing.assert_close(h[..., :4].square() + h[..., 4:].square(), torch.ones(2, 300, 4, dtype=torch.float64),
                                   rtol=0, atol=1e-12)


def test_float32_stacked_layer_is_as_accurate_as_its_float32_loop_at_length_500() -> None:
    # Phases are summed in float64 over time: the closed form must add nothing to float32's own rounding.
    fast, reference = stacked_pair(DiagonalLayer, ReferenceDiagonalLayer, layers=1, query_token=False,
                                   state_size=8)
    x = torch.randn(4, 500, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    layer, loop = fast.layers[0], reference.layers[0]
    with torch.no_grad():
        exact = loop.scan(x)  # float64 (stacked_pair builds float64 models)
        fast32 = copy.deepcopy(layer).float().scan(x.float()).double()
        loop32 = copy.deepcopy(loop).float().scan(x.float()).double()
    scale = exact.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)
    fast_err, loop_err = ((fast32 - exact).abs() / scale).max(), ((loop32 - exact).abs() / scale).max()
    assert fast_err < 1e-3
    assert fast_err < 2 * loop_err + 1e-6
