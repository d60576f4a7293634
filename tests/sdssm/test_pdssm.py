"""PDSSM: the fast scan against the per-step complex reference in float64 (outputs and every gradient,
the straight-through one included), prefix evaluation, and that one layer emulates an automaton; PDLayer
(layers > 1) against its per-sample reference at 1 and 2 layers."""

from __future__ import annotations

import itertools

import pytest
import torch

from sdssm.models.pdssm import PDLayer, PDSSM
from sdssm.models.pdssm_reference import ReferencePDLayer, ReferencePDSSM
from tests.sdssm.checks import (assert_fast_path_matches_reference, assert_prefix_logits_match_forward, fit_briefly,
                                stacked_pair)

VARIANTS = list(itertools.product(["linear", "mlp"], [True, False]))  # readout, query token


def make_pair(readout: str, query_token: bool) -> tuple[PDSSM, ReferencePDSSM]:
    torch.manual_seed(0)
    kwargs = dict(alphabet_size=3, num_classes=4, query_token=query_token, state_size=5, k=3, readout=readout,
                  mlp_hidden=8)
    fast = PDSSM(**kwargs).double()
    reference = ReferencePDSSM(**kwargs).double()
    reference.load_state_dict(fast.state_dict())
    return fast, reference


@pytest.mark.parametrize("readout, query_token", VARIANTS)
def test_fast_path_matches_the_reference_in_float64(readout: str, query_token: bool) -> None:
    fast, reference = make_pair(readout, query_token)
    tokens = torch.randint(0, 3, (4, 13), generator=torch.Generator().manual_seed(1))
    assert_fast_path_matches_reference(fast, reference, tokens, grad_rtol=1e-9, grad_atol=1e-11)


@pytest.mark.parametrize("readout, query_token", VARIANTS)
def test_prefix_logits_equal_forward_on_each_prefix(readout: str, query_token: bool) -> None:
    fast, _ = make_pair(readout, query_token)
    assert_prefix_logits_match_forward(fast, torch.randint(0, 3, (3, 8), generator=torch.Generator().manual_seed(3)))


def test_one_layer_emulates_a_cyclic_automaton_exactly() -> None:
    """Token 1 moves the one-hot state one place round a 5-cycle, token 0 keeps it; with |D| = 1 and no
    input, h_t = e_{(number of 1s) mod 5} at every length: the state is the automaton's."""
    n = 5
    model = PDSSM(alphabet_size=2, num_classes=n, query_token=False, state_size=n, k=2).double()
    with torch.no_grad():
        shift = torch.roll(torch.eye(n, dtype=torch.float64), shifts=1, dims=0)  # row m reads column m - 1
        model.A.copy_(torch.stack([torch.eye(n, dtype=torch.float64), shift]) * 50)
        model.select.weight.copy_(torch.tensor([[50.0, -50.0], [-50.0, 50.0]]))  # token v picks A_v
        model.select.bias.zero_()
        model.magnitude.fill_(60.0)  # sigmoid -> 1 in float64
        model.phase.fill_(-60.0)  # angle -> 0
        model.b_re.zero_()
        model.b_im.zero_()
    tokens = torch.randint(0, 2, (16, 200), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        states = model.scan(tokens)[..., :n]
    expected = torch.nn.functional.one_hot(tokens.cumsum(dim=1) % n, n).double()
    torch.testing.assert_close(states, expected, atol=1e-9, rtol=0)


def test_it_trains() -> None:
    # Predict the last symbol of a length-5 string, read at the query token.
    torch.manual_seed(0)
    model = PDSSM(alphabet_size=3, num_classes=3, query_token=True, state_size=16, k=4)
    early, late = fit_briefly(model, lambda x: x[:, -1], symbols=3)
    assert late < 0.1 and late < 0.2 * early, (early, late)


def test_bad_tokens_are_refused() -> None:
    model = PDSSM(alphabet_size=2, num_classes=2, query_token=False, state_size=4, k=2)
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 2\)"):
        model.scan(torch.tensor([[0, 2]]))


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("query_token", [True, False])
def test_stacked_layers_match_the_per_sample_reference_in_float64(layers: int, query_token: bool) -> None:
    fast, reference = stacked_pair(PDLayer, ReferencePDLayer, layers=layers, query_token=query_token,
                                   options={"k": 3}, state_size=5)
    tokens = torch.randint(0, 3, (4, 11), generator=torch.Generator().manual_seed(1))
    assert_fast_path_matches_reference(fast, reference, tokens, grad_rtol=1e-9, grad_atol=1e-11)
    assert_prefix_logits_match_forward(fast, tokens[:, :7])
