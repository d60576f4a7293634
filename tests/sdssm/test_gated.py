"""GatedSSM: the fast scan against the per-step reference in float64 (outputs and every gradient), the
gate ranges, prefix evaluation, and that the negative-eigenvalue variant represents parity; GatedLayer
(layers > 1) against its per-step reference at 1 and 2 layers."""

from __future__ import annotations

import itertools

import pytest
import torch

from sdssm.models.gated import GatedLayer, GatedSSM
from sdssm.models.gated_reference import ReferenceGatedLayer, ReferenceGatedSSM
from tests.sdssm.checks import (assert_fast_path_matches_reference, assert_prefix_logits_match_forward, fit_briefly,
                                stacked_pair)

VARIANTS = list(itertools.product([False, True], ["linear", "mlp"], [True, False]))  # negative, readout, query


def make_pair(negative: bool, readout: str, query_token: bool) -> tuple[GatedSSM, ReferenceGatedSSM]:
    torch.manual_seed(0)
    kwargs = dict(alphabet_size=3, num_classes=4, query_token=query_token, state_size=6, readout=readout,
                  mlp_hidden=8, negative_eigenvalues=negative)
    fast = GatedSSM(**kwargs).double()
    with torch.no_grad():  # gates on both sides of zero and near +-1, so every branch of the maths is used
        fast.G.uniform_(-4.0, 4.0)
    reference = ReferenceGatedSSM(**kwargs).double()
    reference.load_state_dict(fast.state_dict())
    return fast, reference


@pytest.mark.parametrize("negative, readout, query_token", VARIANTS)
def test_fast_path_matches_the_reference_in_float64(negative: bool, readout: str, query_token: bool) -> None:
    fast, reference = make_pair(negative, readout, query_token)
    tokens = torch.randint(0, 3, (5, 17), generator=torch.Generator().manual_seed(1))
    assert_fast_path_matches_reference(fast, reference, tokens)


@pytest.mark.parametrize("negative, readout, query_token", VARIANTS)
def test_prefix_logits_equal_forward_on_each_prefix(negative: bool, readout: str, query_token: bool) -> None:
    fast, _ = make_pair(negative, readout, query_token)
    assert_prefix_logits_match_forward(fast, torch.randint(0, 3, (4, 9), generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("negative, low, high", [(False, 0.0, 1.0), (True, -1.0, 1.0)])
def test_gates_stay_in_their_range(negative: bool, low: float, high: float) -> None:
    model = GatedSSM(alphabet_size=2, num_classes=2, state_size=4, negative_eigenvalues=negative)
    with torch.no_grad():
        model.G.copy_(torch.tensor([-50.0, -1.0, 1.0, 50.0]).expand_as(model.G))
    gates = model.gates().detach()
    assert float(gates.min()) >= low and float(gates.max()) <= high
    assert float(gates.min()) == pytest.approx(low, abs=1e-6)  # the range's ends are reached


def test_negative_gates_represent_parity_exactly() -> None:
    """A gate of -1 on a 1 and +1 on a 0 flips the state's sign once per 1: the sign of h is the parity, at
    every length (a gate in [0, 1] can only shrink a coordinate, never flip it)."""
    model = GatedSSM(alphabet_size=2, num_classes=2, query_token=False, state_size=1, negative_eigenvalues=True)
    with torch.no_grad():
        model.G.copy_(torch.tensor([[40.0], [-40.0]]))  # a(0) = +1, a(1) = -1 in float32
        model.B.copy_(torch.tensor([[0.0], [0.0]]))
    tokens = torch.randint(0, 2, (64, 300), generator=torch.Generator().manual_seed(4))
    tokens[:, 0] = 1  # h_0 = B[1] must be nonzero to carry a sign
    with torch.no_grad():
        model.B[1, 0] = 1.0
        states = model.scan(tokens)[..., 0]
    parity = tokens.cumsum(dim=1) % 2  # 1 after an odd number of 1s
    # the first 1 sets h = 1; each later 1 flips it: h_t = (-1)^(ones so far - 1)
    assert torch.equal(states > 0, parity == 1)


@pytest.mark.parametrize("negative", [False, True])
def test_it_trains(negative: bool) -> None:
    # Predict the last symbol of a length-5 string, read at the query token.
    torch.manual_seed(0)
    model = GatedSSM(alphabet_size=3, num_classes=3, query_token=True, state_size=16, negative_eigenvalues=negative)
    early, late = fit_briefly(model, lambda x: x[:, -1], symbols=3)
    assert late < 0.1 and late < 0.2 * early, (early, late)


def test_bad_tokens_are_refused() -> None:
    model = GatedSSM(alphabet_size=2, num_classes=2, query_token=False, state_size=4)
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 2\)"):
        model.scan(torch.tensor([[0, 2]]))


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("negative, query_token", list(itertools.product([False, True], [True, False])))
def test_stacked_layers_match_the_per_step_reference_in_float64(layers: int, negative: bool,
                                                                 query_token: bool) -> None:
    fast, reference = stacked_pair(GatedLayer, ReferenceGatedLayer, layers=layers, query_token=query_token,
                                   options={"negative_eigenvalues": negative})
    with torch.no_grad():  # gates on both sides of zero and near +-1
        for block in fast.layers:
            block.G.bias.uniform_(-4.0, 4.0)
    reference.load_state_dict(fast.state_dict())
    tokens = torch.randint(0, 3, (4, 11), generator=torch.Generator().manual_seed(1))
    assert_fast_path_matches_reference(fast, reference, tokens)
    assert_prefix_logits_match_forward(fast, tokens[:, :7])
