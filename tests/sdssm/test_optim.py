"""FlatAdam (sdssm/optim.py) against torch.optim.Adam + clip_grad_norm_ on the same, unflattened model."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from sdssm.models.sdssm import SDSSM
from sdssm.optim import FlatAdam


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


@pytest.mark.parametrize("clip", [1.0, 1e-3])  # 1e-3: every step is clipped
def test_matches_torch_adam_with_clipping(clip: float) -> None:
    flat_model = tiny_model()
    ref_model = copy.deepcopy(flat_model)
    data = batches(12)
    flat_steps(flat_model, data, FlatAdam(flat_model, lr=1e-2, weight_decay=1e-3, grad_clip=clip))
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
