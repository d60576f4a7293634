"""The fast SD-SSM (sdssm.py + dense_scan.py) against the per-step reference, in float64; SDSSMLayer
(layers > 1) against its per-sample reference at 1 and 2 layers."""

from __future__ import annotations

import math

import pytest
import torch

from sdssm.config import TrialConfig
from sdssm.models import build_model
from sdssm.models.dense_scan import DenseScan, dense_scan
from sdssm.models.sdssm import SDSSM, LastState, SDSSMLayer
from sdssm.models.transitions import TransitionMatrices, transition_matrices
from sdssm.models.sdssm_reference import ReferenceSDSSM, ReferenceSDSSMLayer
from tests.sdssm.checks import assert_fast_path_matches_reference, assert_prefix_logits_match_forward, stacked_pair

ATOL = 1e-10


def make_pair(*, alphabet: int = 3, classes: int = 3, query: bool = True, readout: str = "linear",
              k: int = 4, p: float = 1.2, n: int = 8, seed: int = 0) -> tuple[SDSSM, ReferenceSDSSM]:
    """A fast model and a reference holding the same float64 parameters (biases and LayerNorm perturbed
    away from their zero/one init so that every parameter matters)."""
    torch.manual_seed(seed)
    kwargs = dict(k=k, p=p, alphabet_size=alphabet, num_classes=classes, query_token=query,
                  state_size=n, readout=readout, mlp_hidden=6)
    fast = SDSSM(**kwargs).double()
    with torch.no_grad():
        for param in fast.parameters():
            param.add_(0.1 * torch.randn_like(param))
    ref = ReferenceSDSSM(**kwargs).double()
    ref.load_state_dict(fast.state_dict())
    return fast, ref


def random_tokens(batch: int, length: int, alphabet: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, alphabet, (batch, length), generator=gen)


def grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: param.grad.clone() for name, param in model.named_parameters() if param.grad is not None}


CASES = [  # (query token, readout, k, p, length, alphabet); a binary alphabet steps two tokens at a time
    (True, "linear", 8, 1.2, 30, 3),
    (True, "mlp", 3, 1.0, 30, 3),
    (False, "linear", 1, 1.4, 30, 3),
    (False, "mlp", 5, 2.0, 29, 3),
    (True, "linear", 2, 1.1, 1, 3),
    (False, "linear", 4, 1.3, 1, 3),
    (True, "linear", 8, 1.2, 30, 2),
    (True, "mlp", 3, 1.3, 29, 2),
    (False, "linear", 4, 1.2, 31, 2),
    (False, "mlp", 2, 1.5, 2, 2),
    (True, "linear", 2, 1.1, 1, 2),
]


@pytest.mark.parametrize("query, readout, k, p, length, alphabet", CASES)
def test_forward_and_gradients_match_reference(query: bool, readout: str, k: int, p: float,
                                               length: int, alphabet: int) -> None:
    fast, ref = make_pair(query=query, readout=readout, k=k, p=p, alphabet=alphabet)
    tokens = random_tokens(8, length, alphabet)
    labels = torch.randint(0, 3, (8,), generator=torch.Generator().manual_seed(2))
    out_fast, out_ref = fast(tokens), ref(tokens)
    assert out_fast.shape == (8, 3)
    torch.testing.assert_close(out_fast, out_ref, atol=ATOL, rtol=0)
    torch.nn.functional.cross_entropy(out_fast, labels).backward()
    torch.nn.functional.cross_entropy(out_ref, labels).backward()
    g_fast, g_ref = grads(fast), grads(ref)
    assert set(g_fast) == set(g_ref) == {name for name, _ in fast.named_parameters()}
    # Exactly zero only where the maths says so: a softmax over k = 1 matrices is constant, and a single
    # token without a query step multiplies h_{-1} = 0, so A(u) does not matter.
    structurally_zero = {"select.weight", "select.bias"} if k == 1 else set()
    if length == 1 and not query:
        structurally_zero |= {"A", "select.weight", "select.bias"}
    for name in g_fast:
        assert (g_fast[name].abs().max() == 0) == (name in structurally_zero), name
        torch.testing.assert_close(g_fast[name], g_ref[name], atol=ATOL, rtol=0, msg=name)


@pytest.mark.parametrize("query, readout, chunk_elements", [(True, "linear", None), (False, "mlp", None),
                                                           (True, "mlp", 6 * 8 * 4)])
def test_prefix_logits_equal_per_length_reference(query: bool, readout: str, chunk_elements: int | None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if chunk_elements is not None:  # evaluation in chunks of 4 steps: 25 = 6 * 4 + 1 crosses 6 boundaries
        monkeypatch.setattr("sdssm.models.sdssm.EVAL_CHUNK_ELEMENTS", chunk_elements)
    fast, ref = make_pair(query=query, readout=readout, k=3, p=1.3)
    tokens = random_tokens(6, 25, 3, seed=3)
    with torch.no_grad():
        prefix = fast.prefix_logits(tokens)
        per_length = torch.stack([ref(tokens[:, :t]) for t in range(1, 26)], dim=1)
    assert prefix.shape == (6, 25, 3)
    torch.testing.assert_close(prefix, per_length, atol=ATOL, rtol=0)
    # The differentiable path (autograd Function, all states at once) gives the same numbers.
    torch.testing.assert_close(fast.prefix_logits(tokens), prefix, atol=ATOL, rtol=0)


def test_interleaved_graphs_and_retain_graph() -> None:
    """Scan buffers are reused between passes: two live graphs, and a graph kept for a second backward,
    must still see their own states."""
    fast, ref = make_pair(query=True, k=4, p=1.2)
    t1, t2 = random_tokens(8, 12, 3, seed=7), random_tokens(8, 20, 3, seed=8)
    for model in (fast, ref):
        out1, out2 = model(t1), model(t2)  # second forward before the first backward
        loss = out1.square().sum() + out2.sum()
        loss.backward(retain_graph=True)
        model(t2).sum().backward()  # a third pass in between reuses buffers again
        loss.backward()  # the kept graph, a second time
    for (name, p_fast), p_ref in zip(fast.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p_fast.grad, p_ref.grad, atol=ATOL, rtol=0, msg=name)


def test_scan_all_states_and_step_match_reference() -> None:
    """The full-output backward (a gradient on every state) and `step` on arbitrary leading shapes."""
    fast, ref = make_pair(query=True, k=4, p=1.25)
    tokens = random_tokens(7, 20, 4)  # includes the query id (3) mid-string: scan accepts the vocabulary
    weights = torch.randn(7, 20, 8, dtype=torch.float64)
    s_fast, s_ref = fast.scan(tokens), ref.scan(tokens)
    torch.testing.assert_close(s_fast, s_ref, atol=ATOL, rtol=0)
    (weights * s_fast).sum().backward()
    (weights * s_ref).sum().backward()
    g_fast, g_ref = grads(fast), grads(ref)
    for name in ("A", "B", "select.weight", "select.bias"):
        torch.testing.assert_close(g_fast[name], g_ref[name], atol=ATOL, rtol=0, msg=name)
    with torch.no_grad():
        states = torch.randn(2, 5, 8, dtype=torch.float64)
        for token in range(4):
            torch.testing.assert_close(fast.step(states, token), ref.step(states, token), atol=ATOL, rtol=0)


@pytest.mark.parametrize("last_only, with_initial", [(False, False), (True, False), (False, True), (True, True)])
def test_dense_scan_gradcheck(last_only: bool, with_initial: bool) -> None:
    gen = torch.Generator().manual_seed(4)
    a_hat = (0.5 * torch.randn(3, 4, 4, dtype=torch.float64, generator=gen)).requires_grad_()
    b_tab = torch.randn(3, 4, dtype=torch.float64, generator=gen).requires_grad_()
    initial = torch.randn(5, 4, dtype=torch.float64, generator=gen).requires_grad_() if with_initial else None
    tokens = torch.randint(0, 3, (5, 6), generator=gen)
    tokens[:, 2] = 1  # one step where the other tokens are absent
    inputs = (a_hat, b_tab) + ((initial,) if with_initial else ())
    assert torch.autograd.gradcheck(
        lambda a, b, *h: DenseScan.apply(a, b, tokens, h[0] if h else None, last_only), inputs)


def test_dense_scan_matches_explicit_loop() -> None:
    """The recurrence itself, with no model around it, against h_t = Â[u_t] h_{t-1} + b[u_t]."""
    gen = torch.Generator().manual_seed(5)
    a_hat = torch.randn(4, 6, 6, dtype=torch.float64, generator=gen) / 3
    b_tab = torch.randn(4, 6, dtype=torch.float64, generator=gen)
    tokens = torch.randint(0, 4, (9, 12), generator=gen)
    for initial in (None, torch.randn(9, 6, dtype=torch.float64, generator=gen)):
        h = torch.zeros(9, 6, dtype=torch.float64) if initial is None else initial
        expected = []
        for t in range(12):
            h = torch.einsum("bij,bj->bi", a_hat[tokens[:, t]], h) + b_tab[tokens[:, t]]
            expected.append(h)
        states = dense_scan(a_hat, b_tab, tokens, initial=initial)
        torch.testing.assert_close(states, torch.stack(expected, dim=1), atol=ATOL, rtol=0)
        last = dense_scan(a_hat, b_tab, tokens, last_only=True, initial=initial)
        torch.testing.assert_close(last, expected[-1], atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="tokens must lie in"):
        dense_scan(a_hat[:3], b_tab[:3], tokens)  # tokens use all 4 matrices
    with pytest.raises(ValueError, match="initial must be"):
        dense_scan(a_hat, b_tab, tokens, initial=torch.zeros(9, 5, dtype=torch.float64))


@pytest.mark.parametrize("length, in_pairs, query", [(5, True, 2), (6, True, None), (5, False, 2), (1, True, 2),
                                                    (0, False, 2)])
def test_last_state_gradcheck(length: int, in_pairs: bool, query: int | None) -> None:
    """The fused training node, every input at once: transitions, pair tables, scan and query step."""
    gen = torch.Generator().manual_seed(9)
    weight = torch.randn(3, 3, dtype=torch.float64, generator=gen).requires_grad_()  # k = 3, V = 3
    bias = torch.randn(3, dtype=torch.float64, generator=gen).requires_grad_()
    dictionary = torch.randn(3, 4, 4, dtype=torch.float64, generator=gen).requires_grad_()
    b_in = torch.randn(3, 4, dtype=torch.float64, generator=gen).requires_grad_()
    tokens = torch.randint(0, 2, (5, length), generator=gen)
    assert torch.autograd.gradcheck(
        lambda w, b, a, bi: LastState.apply(w, b, a, bi, tokens, 1.3, 2, query, in_pairs),
        (weight, bias, dictionary, b_in))


def test_pairs_and_single_steps_agree() -> None:
    """Scanning in pairs is a reformulation: the same state and gradients as one token at a time."""
    fast, _ = make_pair(alphabet=2, query=True, k=4, p=1.2)
    tokens = random_tokens(8, 33, 2)
    params = (fast.select.weight, fast.select.bias, fast.A, fast.B)
    results = []
    for in_pairs in (True, False):
        out = LastState.apply(*params, tokens, fast.p, 2, 2, in_pairs)
        results.append((out, torch.autograd.grad(out.square().sum(), params)))
    torch.testing.assert_close(results[0][0], results[1][0], atol=ATOL, rtol=0)
    for g_pairs, g_single in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(g_pairs, g_single, atol=ATOL, rtol=0)


def test_inference_mode_then_training() -> None:
    """Reused buffers first allocated under torch.inference_mode must stay writable outside it."""
    fast, ref = make_pair(query=True, k=3)
    tokens = random_tokens(4, 9, 3)
    with torch.inference_mode():
        fast(tokens), fast.prefix_logits(tokens)
    fast(tokens).sum().backward()
    ref(tokens).sum().backward()
    torch.testing.assert_close(fast.A.grad, ref.A.grad, atol=ATOL, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(fast.prefix_logits(tokens)[:, -1], ref(tokens), atol=ATOL, rtol=0)


@pytest.mark.parametrize("p", [1.0, 1.2, 2.0, 3.5])
def test_transition_columns_have_unit_lp_norm(p: float) -> None:
    fast, _ = make_pair(k=5, p=p, n=16)
    a_hat = fast.transition_matrices().detach()
    assert a_hat.shape == (4, 16, 16)
    col_norms = a_hat.abs().pow(p).sum(dim=1).pow(1 / p)  # [V, N]: one norm per column
    torch.testing.assert_close(col_norms, torch.ones_like(col_norms), atol=1e-12, rtol=0)
    # ... while rows are not normalised (the test would pass for a transposed normalisation otherwise).
    row_norms = a_hat.abs().pow(p).sum(dim=2).pow(1 / p)
    assert (row_norms - 1).abs().max() > 1e-3


@pytest.mark.parametrize("p", [1.0, 1.3, 2.0, 2.7])
def test_transition_matrices_gradcheck(p: float) -> None:
    gen = torch.Generator().manual_seed(6)
    weight = torch.randn(2, 3, dtype=torch.float64, generator=gen).requires_grad_()  # k = 2, V = 3
    bias = torch.randn(2, dtype=torch.float64, generator=gen).requires_grad_()
    dictionary = torch.randn(2, 3, 3, dtype=torch.float64, generator=gen).requires_grad_()
    assert torch.autograd.gradcheck(lambda w, b, a: TransitionMatrices.apply(w, b, a, p), (weight, bias, dictionary))


def test_transition_matrices_zero_column_stays_finite() -> None:
    """An all-zero column would be 0/0 without the floor: it stays zero, with finite gradients."""
    dictionary = torch.tensor([[[3.0, 0.0], [4.0, 0.0]]], dtype=torch.float64, requires_grad=True)
    weight = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    out = transition_matrices(weight, bias, dictionary, 2.0)
    torch.testing.assert_close(out, torch.tensor([[[0.6, 0.0], [0.8, 0.0]]] * 2, dtype=torch.float64))
    out.sum().backward()
    assert torch.isfinite(dictionary.grad).all()


def test_init_and_parameter_shapes() -> None:
    model = SDSSM(k=8, p=1.2, alphabet_size=2, num_classes=2, query_token=True, state_size=64)
    shapes = {name: tuple(param.shape) for name, param in model.named_parameters()}
    assert shapes == {"select.weight": (8, 3), "select.bias": (8,), "A": (8, 64, 64), "B": (3, 64),
                      "norm.weight": (64,), "norm.bias": (64,), "head.weight": (2, 64), "head.bias": (2,)}
    bound = math.sqrt(6) / math.sqrt(2 * 64)
    assert model.A.abs().max() <= bound and model.A.abs().max() > 0.95 * bound
    assert model.state_dim == 64


def test_float32_forward_close_to_float64() -> None:
    fast, _ = make_pair(query=True, k=8, p=1.2, n=16)
    tokens = random_tokens(4, 40, 3)
    out64 = fast(tokens)
    out32 = fast.float()(tokens)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, atol=1e-4, rtol=1e-4)


def test_bad_tokens_and_empty_string() -> None:
    fast, ref = make_pair(query=True)
    with pytest.raises(ValueError, match="tokens must lie in"):
        fast(torch.tensor([[0, 3]]))  # the query id inside a string
    with pytest.raises(ValueError, match="tokens must lie in"):
        fast.scan(torch.tensor([[0, 4]]))
    empty = torch.zeros(2, 0, dtype=torch.int64)  # only the query step, from h = 0
    expected = ref.readout(ref.step(torch.zeros(2, 8, dtype=torch.float64), ref.query_id))
    torch.testing.assert_close(fast(empty), expected, atol=ATOL, rtol=0)


def test_registry_builds_sdssm() -> None:
    config = TrialConfig(model="sdssm", k=6, p=1.1, state_size=16, readout="mlp", mlp_hidden=8, query_token=False)
    model = build_model(config, alphabet_size=2, num_classes=8)
    assert isinstance(model, SDSSM)
    assert (model.k, model.p, model.state_dim, model.vocab_size) == (6, 1.1, 16, 2)
    assert model(torch.zeros(3, 5, dtype=torch.int64)).shape == (3, 8)


PREFIX_CASES = [  # (query token, readout, length, alphabet): binary and larger alphabets, odd and even lengths
    (True, "linear", 1, 2), (True, "linear", 2, 2), (False, "mlp", 3, 3), (True, "mlp", 13, 2),
    (True, "linear", 30, 2), (True, "mlp", 31, 2), (False, "linear", 30, 2), (False, "linear", 29, 2),
    (True, "linear", 17, 3), (False, "mlp", 16, 4),
]


@pytest.mark.parametrize("query, readout, length, alphabet", PREFIX_CASES)
def test_prefixes_loss_and_gradients_match_reference(query: bool, readout: str, length: int,
                                                     alphabet: int) -> None:
    """`supervision: prefixes`: the trainer's loss over every labelled prefix through the fused
    `PrefixStates` node equals the per-step reference's, in value and in every parameter's gradient,
    with part of the prefixes unlabelled (as in modular arithmetic)."""
    from sdssm.train import training_loss

    fast, ref = make_pair(query=query, readout=readout, k=3, p=1.3, alphabet=alphabet)
    tokens = random_tokens(6, length, alphabet)
    gen = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 3, (6, length), generator=gen)
    mask = torch.rand(6, length, generator=gen) < 0.7
    mask[:, -1] = True
    loss_fast, last_fast = training_loss(fast, tokens, labels, mask, "prefixes")
    loss_ref, last_ref = training_loss(ref, tokens, labels, mask, "prefixes")
    torch.testing.assert_close(loss_fast, loss_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(last_fast, ref(tokens), atol=ATOL, rtol=0)
    loss_fast.backward()
    loss_ref.backward()
    g_fast, g_ref = grads(fast), grads(ref)
    assert set(g_fast) == set(g_ref) == {name for name, _ in fast.named_parameters()}
    for name in g_fast:
        assert g_fast[name].abs().max() > 0, name
        torch.testing.assert_close(g_fast[name], g_ref[name], atol=ATOL, rtol=0, msg=name)


def test_prefixes_gradient_differs_from_last() -> None:
    """The two supervisions are different losses: with more than one prefix their gradients differ."""
    from sdssm.train import training_loss

    fast, _ = make_pair(query=True, alphabet=2)
    tokens = random_tokens(4, 20, 2)
    labels = torch.randint(0, 3, (4, 20), generator=torch.Generator().manual_seed(4))
    mask = torch.ones(4, 20, dtype=torch.bool)
    by_supervision = {}
    for supervision in ("last", "prefixes"):
        fast.zero_grad()
        training_loss(fast, tokens, labels, mask, supervision)[0].backward()
        by_supervision[supervision] = fast.A.grad.clone()
    assert not torch.allclose(by_supervision["last"], by_supervision["prefixes"])


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("query", [True, False])
@pytest.mark.parametrize("p", [1.0, 1.3, 2.0])
def test_stacked_layers_match_the_per_sample_reference_in_float64(layers: int, query: bool, p: float) -> None:
    fast, reference = stacked_pair(SDSSMLayer, ReferenceSDSSMLayer, layers=layers, query_token=query,
                                   options={"k": 3, "p": p})
    tokens = torch.randint(0, 3, (3, 9), generator=torch.Generator().manual_seed(1))
    assert_fast_path_matches_reference(fast, reference, tokens, grad_rtol=1e-9, grad_atol=1e-11)
    assert_prefix_logits_match_forward(fast, tokens[:, :6])
