"""FlatAdam (sdssm/optim.py) against torch.optim.Adam + clip_grad_norm_ on the same, unflattened model."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from sdssm.models.sdssm import SDSSM
from sdssm import optim
from sdssm.optim import FUSED_ADAM_SCHEMA, FlatAdam, fused_adam_kernel_problem


def tiny_model() -> SDSSM:
    torch.manual_seed(0)
    return SDSSM(k=3, p=1.2, alphabet_size=2, num_classes=2, state_size=6).double()


def batches(count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(1)
    return [(torch.randint(0, 2, (16, 3 + i % 5), generator=gen), torch.randint(0, 2, (16,), generator=gen))
            for i in range(count)]


def reference_steps(model: nn.Module, data: list[tuple[torch.Tensor, torch.Tensor]],
                    optimizer: torch.optim.Adam, clip: float) -> None:
    for tokens, labels in data:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(tokens), labels).backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()


def flat_steps(model: nn.Module, data: list[tuple[torch.Tensor, torch.Tensor]], optimizer: FlatAdam) -> None:
    for tokens, labels in data:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(tokens), labels).backward()
        optimizer.step()


def assert_same_parameters(a: nn.Module, b: nn.Module) -> None:
    for (name, p_a), p_b in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p_a, p_b, atol=1e-12, rtol=0, msg=name)


def test_torch_has_the_private_fused_adam_kernel_flatadam_calls() -> None:
    """FlatAdam's fast path calls torch's private `torch._fused_adam_`. On a torch where that kernel is
    missing or declared differently, FlatAdam still trains correctly (it takes torch.optim.Adam's public
    step, ~7% slower a trainer step), and this test says what to do."""
    problem = fused_adam_kernel_problem()
    assert problem is None, (
        f"{problem}.\nFlatAdam (sdssm/optim.py) now takes the public torch.optim.Adam step, which is correct "
        f"but slower. Either stay on the torch range pyproject.toml names, or port the fast path to torch "
        f"{torch.__version__}: compare FlatAdam._fused_adam_step with torch/optim/adam.py's _fused_adam, "
        f"set FUSED_ADAM_SCHEMA to the new schema, run tests/sdssm/test_optim.py, and widen the range in "
        f"pyproject.toml.")
    assert FlatAdam(tiny_model(), lr=1e-2).fast_path  # float64 on CPU: the path the tests below compare


def test_a_kernel_declared_differently_is_named_and_flatadam_takes_the_public_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optim, "FUSED_ADAM_SCHEMA", FUSED_ADAM_SCHEMA.replace("float lr", "Tensor lr"))
    fused_adam_kernel_problem.cache_clear()
    try:
        problem = fused_adam_kernel_problem()
        assert problem is not None and f"torch {torch.__version__} declares" in problem
        assert not FlatAdam(tiny_model(), lr=1e-2).fast_path
    finally:
        fused_adam_kernel_problem.cache_clear()


@pytest.mark.parametrize("fast_path", [True, False])  # the private kernel, and the public step it falls back to
@pytest.mark.parametrize("clip", [1.0, 1e-3])  # 1e-3: every step is clipped
def test_matches_torch_adam_with_clipping(clip: float, fast_path: bool) -> None:
    flat_model = tiny_model()
    ref_model = copy.deepcopy(flat_model)
    data = batches(12)
    optimizer = FlatAdam(flat_model, lr=1e-2, weight_decay=1e-3, grad_clip=clip)
    if not fast_path:
        optimizer._fused = False
    assert optimizer.fast_path == (fast_path and fused_adam_kernel_problem() is None)
    flat_steps(flat_model, data, optimizer)
    reference_steps(ref_model, data, torch.optim.Adam(ref_model.parameters(), lr=1e-2, weight_decay=1e-3), clip)
    assert_same_parameters(flat_model, ref_model)


def test_clipping_equals_clip_grad_norm() -> None:
    gen = torch.Generator().manual_seed(3)
    for scale in (1e-3, 1.0, 1e3):
        model = tiny_model()
        optimizer = FlatAdam(model, lr=1e-2)
        optimizer.flat.grad.copy_(scale * torch.randn(optimizer.flat.numel(), generator=gen,  # type: ignore[union-attr]
                                                      dtype=torch.float64))
        reference = torch.zeros_like(optimizer.flat.detach())
        reference.grad = optimizer.flat.grad.clone()  # type: ignore[union-attr]
        expected_norm = nn.utils.clip_grad_norm_([reference], 1.0)
        expected = reference.grad
        norm = optimizer.clip_grad_norm(1.0)
        assert torch.equal(norm, expected_norm)
        assert torch.equal(optimizer.flat.grad, expected)


def test_parameters_and_gradients_view_one_buffer() -> None:
    model = tiny_model()
    optimizer = FlatAdam(model, lr=1e-2)
    for param, offset in zip(model.parameters(), optimizer.offsets):
        assert param.data_ptr() == optimizer.flat.data_ptr() + offset * param.element_size()
        assert offset % 16 == 0
    flat_steps(model, batches(2), optimizer)
    for param, grad in zip(model.parameters(), optimizer.grads):
        assert param.grad is grad  # autograd accumulated into the views
    assert optimizer.flat.grad.abs().sum() > 0  # type: ignore[union-attr]


def test_a_gradient_set_to_none_fails_loudly() -> None:
    model = tiny_model()
    optimizer = FlatAdam(model, lr=1e-2)
    model.zero_grad(set_to_none=True)
    with pytest.raises(RuntimeError, match="no longer views FlatAdam's buffer"):
        optimizer.step()


def test_rebound_parameter_data_fails_loudly() -> None:
    """Weights moved out of the buffer (as nn.LSTM.flatten_parameters does on CUDA) must not be trained
    silently through a buffer the model no longer reads."""
    model = tiny_model()
    optimizer = FlatAdam(model, lr=1e-2)
    flat_steps(model, batches(1), optimizer)
    model.A.data = model.A.data.clone()
    with pytest.raises(RuntimeError, match="re-packed"):
        flat_steps(model, batches(1), optimizer)


def test_loads_a_per_parameter_adam_state() -> None:
    """A checkpoint written with torch.optim.Adam over the separate parameters (checkpoint format 1)
    continues exactly as that optimizer would."""
    ref_model = tiny_model()
    ref_optimizer = torch.optim.Adam(ref_model.parameters(), lr=1e-2)
    reference_steps(ref_model, batches(3), ref_optimizer, 1.0)
    flat_model = copy.deepcopy(ref_model)
    flat_optimizer = FlatAdam(flat_model, lr=1e-2)
    flat_optimizer.load_state_dict(copy.deepcopy(ref_optimizer.state_dict()))
    more = batches(8)[3:]
    reference_steps(ref_model, more, ref_optimizer, 1.0)
    flat_steps(flat_model, more, flat_optimizer)
    assert_same_parameters(flat_model, ref_model)


def test_refuses_mixed_dtypes_and_no_parameters() -> None:
    mixed = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double())
    with pytest.raises(ValueError, match="one device and in one dtype"):
        FlatAdam(mixed, lr=1e-3)
    with pytest.raises(ValueError, match="no trainable parameters"):
        FlatAdam(nn.ReLU(), lr=1e-3)
