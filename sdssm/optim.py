"""Adam with global-norm gradient clipping, over a model whose parameters live in one flat buffer.

A trial's model has a handful of small parameter tensors (SD-SSM: 8, about 35k numbers). At that size
clipping and Adam cost their per-tensor, per-call overhead, not arithmetic: `clip_grad_norm_` over 8
tensors and Adam's fused kernel over 8 tensors took about 0.5 ms of a 4-5 ms training step on this
project's CPU. Here every parameter becomes a view into one contiguous buffer and every gradient a view
into a second one, so clipping is one norm and one scale of one tensor and Adam is one fused call over
one tensor. The arithmetic is unchanged: Adam is elementwise, and the global norm is the norm of the
concatenation (summed in a different order, so it can differ from the per-tensor form in the last bit).

Contract: build `FlatAdam` after the model is on its device and in its dtype (moving or casting the
model afterwards replaces its parameters and breaks the views); call `zero_grad` / `step` as with a
torch optimizer. Gradients are zeroed in place, never set to None: autograd then accumulates into the
views. `step` checks that this still holds and fails loudly otherwise, instead of training on stale
gradients or updating a buffer the model no longer reads. On CUDA, cuDNN's LSTM wants its weights in
its own packed buffer; with them in ours it packs a copy on each call (correct, with a one-time warning).

After the first step, `step` calls torch's fused Adam kernel directly (`torch._fused_adam_`, a private
API), skipping torch.optim.Adam.step's per-call bookkeeping: measured on this project's CPU, the public
`torch.optim.Adam(fused=True).step()` on the same flat parameter made the trainer's whole step (the
`sdssm-sweep bench model` parity step) about 7% slower, 0.25 ms of 6.5 ms (median over interleaved rounds
in one process, torch 2.13). The kernel's schema is checked once
(`fused_adam_kernel_problem`): on a torch whose kernel is missing or differs from FUSED_ADAM_SCHEMA,
FlatAdam takes the public step (same numbers, slower) and tests/sdssm/test_optim.py fails, naming the
version and what to do. pyproject.toml bounds torch to the versions this was tested on.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

# Each parameter starts at a multiple of 16 elements (64 bytes for float32): kernels see aligned data.
ALIGN = 16

# The private kernel `_fused_adam_step` calls, as torch 2.13 declares it (torch.ops.aten._fused_adam_).
FUSED_ADAM_SCHEMA = (
    "aten::_fused_adam_(Tensor(a!)[] self, Tensor(b!)[] grads, Tensor(c!)[] exp_avgs, Tensor(d!)[] exp_avg_sqs, "
    "Tensor(e!)[] max_exp_avg_sqs, Tensor[] state_steps, *, float lr, float beta1, float beta2, "
    "float weight_decay, float eps, bool amsgrad, bool maximize, Tensor? grad_scale=None, "
    "Tensor? found_inf=None) -> ()")


@functools.cache
def fused_adam_kernel_problem() -> str | None:
    """None when this torch has the private fused Adam kernel with exactly FUSED_ADAM_SCHEMA, else what
    differs (FlatAdam then takes torch.optim.Adam's public step)."""
    packet = getattr(torch.ops.aten, "_fused_adam_", None)
    if packet is None or not hasattr(torch, "_fused_adam_"):
        return f"torch {torch.__version__} has no torch._fused_adam_"
    schema = str(packet.default._schema)
    if schema != FUSED_ADAM_SCHEMA:
        return f"torch {torch.__version__} declares {schema}, not {FUSED_ADAM_SCHEMA}"
    return None


class FlatAdam:
    """torch.optim.Adam (fused where the device supports it, else foreach) plus clip_grad_norm_, over one
    flat parameter buffer that the model's parameters view into."""

    def __init__(self, model: nn.Module, lr: float, weight_decay: float = 0.0, grad_clip: float | None = 1.0
                 ) -> None:
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters")
        first = self.params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self.params):
            raise ValueError("FlatAdam needs every parameter on one device and in one dtype")
        self.offsets: list[int] = []
        total = 0
        for p in self.params:
            self.offsets.append(total)
            total += -(-p.numel() // ALIGN) * ALIGN
        self.flat = nn.Parameter(first.new_zeros(total))
        self.flat.grad = first.new_zeros(total)
        with torch.no_grad():
            for p, view in zip(self.params, self._views(self.flat)):
                view.copy_(p)
                p.data = view
        self.grads = self._views(self.flat.grad)
        self._data_ptrs = [p.data_ptr() for p in self.params]
        for p, grad in zip(self.params, self.grads):
            p.grad = grad
        self.grad_clip = grad_clip
        try:
            self.adam = torch.optim.Adam([self.flat], lr=lr, weight_decay=weight_decay, fused=True)
            self._fused = fused_adam_kernel_problem() is None
        except (RuntimeError, TypeError):
            self.adam = torch.optim.Adam([self.flat], lr=lr, weight_decay=weight_decay, foreach=True)
            self._fused = False

    def _views(self, buffer: torch.Tensor) -> list[torch.Tensor]:
        return [buffer[offset:offset + p.numel()].view_as(p) for p, offset in zip(self.params, self.offsets)]

    def zero_grad(self) -> None:
        self.flat.grad.zero_()  # type: ignore[union-attr]

    def step(self) -> None:
        """Clip the global gradient norm to `grad_clip` (if set), then one Adam step."""
        for p, grad, ptr in zip(self.params, self.grads, self._data_ptrs):
            if p.grad is not grad or p.data_ptr() != ptr:
                raise RuntimeError("a parameter or its gradient no longer views FlatAdam's buffer (gradient set "
                                   "to None, the model moved or cast after FlatAdam was built, or its weights "
                                   "re-packed, e.g. by nn.LSTM.flatten_parameters())")
        if self.grad_clip is not None:
            self.clip_grad_norm(self.grad_clip)
        state = self.adam.state.get(self.flat)
        if state and self._fused:
            self._fused_adam_step(state)
        else:  # the first step creates Adam's state; other devices and dtypes take torch's own path
            self.adam.step()

    @property
    def fast_path(self) -> bool:
        """Whether steps after the first call torch's fused kernel directly (else torch.optim.Adam.step)."""
        return self._fused

    def _fused_adam_step(self, state: dict[str, Any]) -> None:
        """What torch.optim.Adam(fused=True).step() does for one tensor, minus its per-call bookkeeping
        (~0.2 ms of Python per step here): bump the step count, then one call of torch's fused kernel on
        the same state tensors, so `state_dict` and a switch back to `self.adam.step()` stay valid. Tests
        hold it to torch.optim.Adam step for step."""
        group = self.adam.param_groups[0]
        state["step"].add_(1)
        torch._fused_adam_([self.flat], [self.flat.grad], [state["exp_avg"]], [state["exp_avg_sq"]], [],
                           [state["step"]], amsgrad=False, lr=group["lr"], beta1=group["betas"][0],
                           beta2=group["betas"][1], weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=False, grad_scale=None, found_inf=None)

    def clip_grad_norm(self, max_norm: float) -> torch.Tensor:
        """torch.nn.utils.clip_grad_norm_'s rule on the flat gradient, written out: scale by
        max_norm / (norm + 1e-6) where that is below 1. Four ops instead of the library's generic path
        (which costs about 50 us more per step here); tests hold the two to the same numbers."""
        grad = self.flat.grad
        assert grad is not None
        total = torch.linalg.vector_norm(grad)
        grad.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
        return total

    def state_dict(self) -> dict[str, Any]:
        return self.adam.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Adam's state for the flat buffer; also accepts a per-parameter Adam state over the same
        parameters (checkpoints written before parameters were flattened) and flattens it."""
        param_ids = state["param_groups"][0]["params"] if state.get("param_groups") else []
        if len(state.get("param_groups", [])) == 1 and len(param_ids) == len(self.params) > 1:
            state = self._flatten_state(state, param_ids)
        self.adam.load_state_dict(state)

    def _flatten_state(self, state: dict[str, Any], param_ids: list[Any]) -> dict[str, Any]:
        per_param = [state["state"].get(i, {}) for i in param_ids]
        flat_state: dict[str, Any] = {}
        if all(per_param):
            flat_state["step"] = per_param[0]["step"].clone()
            for key in ("exp_avg", "exp_avg_sq"):
                buffer = torch.zeros_like(self.flat.detach())
                for view, entry in zip(self._views(buffer), per_param):
                    view.copy_(entry[key])
                flat_state[key] = buffer
        group = dict(state["param_groups"][0], params=[0])
        return {"state": {0: flat_state} if flat_state else {}, "param_groups": [group]}
