"""The dense selective recurrence h_t = Â[u_t] h_{t-1} + b[u_t] with a hand-written backward.

SD-SSM's transition A(u_t) depends on the token alone, so a forward pass needs only V = vocabulary-size
distinct matrices Â_0..Â_{V-1} (mixed and column-normalised by the caller). With them fixed, the
recurrence over time is a loop of small dense products. Letting autograd record that loop costs graph
nodes per step; `DenseScan` records one node for the whole scan and runs its own reverse loop.

One step is two library calls, whatever the batch's tokens (row-vector convention, h is [B, N]):
    Y = [b_0 | ... | b_{V-1}] + h_{t-1} @ [Â_0^T | ... | Â_{V-1}^T]     one GEMM for every token  [B, V*N]
    h_t[b] = Y[b, block u_t[b]]                     one row gather (row b*V + u_t[b] of Y as [B*V, N])
Per step this spends V times the flops of the batch's own products, but the alphabets here are small
(2-8 symbols), and at these sizes the cost of a call rather than of a flop dominates on a CPU: grouping
the batch by token (V smaller GEMMs on sorted blocks) measured no faster for V <= 3 on this project's
CPUs, and about 20% faster for V = 8. It also suits a GPU: two kernels per step, no host sync in the loop.

Backward (g_t = dLoss/dh_t in total, dH_t the gradient flowing into state t from outside):
    g_{L-1} = dH_{L-1},   g_{t-1} = dH_{t-1} + Â[u_t]^T g_t     (one GEMM against [Â_0 | ... | Â_{V-1}]
                                                                 and the same row gather)
    dÂ_v = sum over positions (t, b) with u_t[b] = v of g_t[b] h_{t-1}[b]^T      (h_{-1} = 0)
    db_v = sum over the same positions of g_t[b]
The last two are one GEMM and one column sum per token after gathering the positions by token.

Memory: the [L, B, N] buffers come from `WORKSPACE` (reused CPU buffers). Fresh multi-megabyte
allocations of varying size were served by mmap on this project's machines and cost a page fault per
4 KiB on first touch, about a fifth of a training step; reused buffers make that cost disappear.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import torch


class Workspace:
    """Reused CPU buffers, per thread (CUDA has its own caching allocator: there this is torch.empty).

    `scratch(slot, shape, like)`: a buffer private to one call site, valid until that slot is asked for
    again in the same thread; a view per shape is cached, so a repeat request costs no tensor op.
    `take(shape, like)` / `give(tensor)`: a small pool for buffers that outlive a call (the states a
    backward pass needs); a tensor must not be used after it is given back.
    """

    def __init__(self, max_free: int = 4) -> None:
        self._local = threading.local()
        self._max_free = max_free

    def _slots(self) -> dict[Any, tuple[torch.Tensor, dict[tuple[int, ...], torch.Tensor]]]:
        try:
            return self._local.slots
        except AttributeError:
            self._local.slots, self._local.free = {}, []
            return self._local.slots

    def scratch(self, slot: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        if like.device.type != "cpu":
            return torch.empty(shape, dtype=like.dtype, device=like.device)
        slots = self._slots()
        key = (slot, like.dtype)
        entry = slots.get(key)
        if entry is not None:
            view = entry[1].get(shape)
            if view is not None:
                return view
        numel = math.prod(shape)
        if entry is None or entry[0].numel() < numel:
            entry = (self._new(numel, like.dtype), {})
            slots[key] = entry
        view = entry[0][:numel].view(shape)
        entry[1][shape] = view
        return view

    @staticmethod
    def _new(numel: int, dtype: torch.dtype) -> torch.Tensor:
        # Headroom for slowly growing lengths. A normal tensor even when first needed under
        # torch.inference_mode: an inference tensor could not be written to outside it later.
        with torch.inference_mode(False):
            return torch.empty(max(numel + numel // 4, 1024), dtype=dtype)

    def take(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        if like.device.type != "cpu":
            return torch.empty(shape, dtype=like.dtype, device=like.device)
        self._slots()
        free: list[torch.Tensor] = self._local.free
        numel = math.prod(shape)
        for i, buf in enumerate(free):
            if buf.dtype == like.dtype and buf.numel() >= numel:
                return free.pop(i)[:numel].view(shape)
        return self._new(numel, like.dtype)[:numel].view(shape)

    def give(self, tensor: torch.Tensor) -> None:
        if tensor.device.type != "cpu":
            return
        self._slots()
        free: list[torch.Tensor] = self._local.free
        free.append(tensor if tensor._base is None else tensor._base)
        if len(free) > self._max_free:  # keep the largest
            free.pop(min(range(len(free)), key=lambda i: free[i].numel()))


WORKSPACE = Workspace()


def check_tokens(tokens: torch.Tensor, vocab: int) -> None:
    """int64 [B, L] with values in [0, vocab): an out-of-range token would silently read another
    sample's row."""
    if tokens.dim() != 2 or tokens.dtype != torch.int64:
        raise ValueError(f"tokens must be int64 [B, L], got {tokens.dtype} {tuple(tokens.shape)}")
    if tokens.numel():
        low, high = torch.aminmax(tokens)
        if int(low) < 0 or int(high) >= vocab:
            raise ValueError(f"tokens must lie in [0, {vocab}), got [{int(low)}, {int(high)}]")


def check_inputs(a_hat: torch.Tensor, b_tab: torch.Tensor, tokens: torch.Tensor) -> None:
    """Shapes, dtype, and tokens in [0, V)."""
    if a_hat.dim() != 3 or a_hat.shape[1] != a_hat.shape[2]:
        raise ValueError(f"a_hat must be [V, N, N], got {tuple(a_hat.shape)}")
    if b_tab.shape != a_hat.shape[:2]:
        raise ValueError(f"b_tab must be [V, N] = {tuple(a_hat.shape[:2])}, got {tuple(b_tab.shape)}")
    check_tokens(tokens, a_hat.shape[0])


_ROW_OFFSETS: dict[tuple[int, int, torch.device], torch.Tensor] = {}


def gather_rows(tokens: torch.Tensor, vocab: int) -> torch.Tensor:
    """rows[t, b] = b * V + u_t[b], time-major [L, B]: the row of Y (seen as [B*V, N]) that step t keeps."""
    key = (tokens.shape[0], vocab, tokens.device)
    offsets = _ROW_OFFSETS.get(key)
    if offsets is None:  # b * V, cached: the same few (batch, vocabulary) pairs recur every step
        with torch.inference_mode(False):
            offsets = _ROW_OFFSETS[key] = torch.arange(key[0], device=tokens.device) * vocab
    return (tokens.t() + offsets).contiguous()


def forward_weight(a_hat: torch.Tensor) -> torch.Tensor:
    """[Â_0^T | ... | Â_{V-1}^T] as [N, V*N]: w[j, v*N + i] = Â_v[i, j]."""
    vocab, n, _ = a_hat.shape
    return a_hat.permute(2, 0, 1).reshape(n, vocab * n)


def advance(w_fwd: torch.Tensor, b_cat: torch.Tensor, rows: Sequence[torch.Tensor], states: torch.Tensor,
            first: int, y: torch.Tensor) -> None:
    """Steps first+1 .. first+T in place: states [T+1, B, N] holds h_first in slab 0 (first = -1: the
    initial state) and gets h_{first+j} in slab j. Per step Y = b_cat + h @ w_fwd (b_cat = [b_0 | ... |
    b_{V-1}]) and one row gather."""
    slabs = states.unbind(0)
    y_rows = y.view(-1, states.shape[2])
    for j in range(1, len(slabs)):
        torch.addmm(b_cat, slabs[j - 1], w_fwd, out=y)
        torch.index_select(y_rows, 0, rows[first + j], out=slabs[j])


def scan_forward(a_hat: torch.Tensor, b_tab: torch.Tensor, tokens: torch.Tensor, rows: torch.Tensor,
                 initial: torch.Tensor | None = None, pooled: bool = True) -> torch.Tensor:
    """States [L+1, B, N], time-major: slab t+1 is h_t, slab 0 is h_{-1} (`initial`, or zero when None).
    `pooled`: a WORKSPACE buffer (give it back when done), else a fresh tensor."""
    length, batch = rows.shape
    vocab, n, _ = a_hat.shape
    shape = (length + 1, batch, n)
    states = WORKSPACE.take(shape, a_hat) if pooled else a_hat.new_empty(shape)
    y = WORKSPACE.scratch("forward_y", (batch, vocab * n), a_hat)
    w_fwd, b_cat, row_list = forward_weight(a_hat), b_tab.reshape(-1), rows.unbind(0)
    if initial is None:  # h_0 = Â[u_0] 0 + b[u_0]: a gather, no product
        states[0].zero_()
        torch.index_select(b_tab, 0, tokens[:, 0], out=states[1])
        advance(w_fwd, b_cat, row_list, states[1:], 0, y)
    else:
        states[0].copy_(initial)
        advance(w_fwd, b_cat, row_list, states, -1, y)
    return states


def iter_states(a_hat: torch.Tensor, b_tab: torch.Tensor, tokens: torch.Tensor, chunk: int
                ) -> Iterator[tuple[int, torch.Tensor]]:
    """(first step, states [T*B, N]) for consecutive chunks of at most `chunk` steps, time-major.

    For evaluation without autograd: only one chunk of states exists at a time (cache-sized, reused)
    instead of an [L, B, N] tensor. Row t*B + b of a chunk is sample b after step first+t. The yielded
    tensor is overwritten by the next chunk.
    """
    batch, length = tokens.shape
    vocab, n, _ = a_hat.shape
    rows = gather_rows(tokens, vocab).unbind(0)
    w_fwd, b_cat = forward_weight(a_hat), b_tab.reshape(-1)
    buf = WORKSPACE.scratch("chunk_states", (chunk + 1, batch, n), a_hat)  # slab 0: the state before
    y = WORKSPACE.scratch("chunk_y", (batch, vocab * n), a_hat)
    torch.index_select(b_tab, 0, tokens[:, 0], out=buf[1])  # h_0 = b[u_0]
    advance(w_fwd, b_cat, rows, buf[1:min(chunk, length) + 1], 0, y)
    for first in range(0, length, chunk):
        steps = min(chunk, length - first)
        if first:
            advance(w_fwd, b_cat, rows, buf[:steps + 1], first - 1, y)
        yield first, buf[1:steps + 1].view(steps * batch, n)
        buf[0].copy_(buf[steps])


def scan_backward(a_hat: torch.Tensor, tokens: torch.Tensor, rows: torch.Tensor, states: torch.Tensor,
                  grad: torch.Tensor, last_only: bool, grad_a: torch.Tensor, grad_b: torch.Tensor,
                  grad_initial: torch.Tensor | None = None) -> None:
    """Write dÂ [V, N, N] into grad_a and db [V, N] into grad_b (both zero on entry: tokens absent from the
    batch are left untouched), from the states [L+1, B, N] of `scan_forward` and the upstream gradient:
    dLoss/dH as [B, L, N], or with `last_only` dLoss/dh_{L-1} as [B, N]. With `grad_initial` [B, N], also
    write dLoss/dh_{-1} = Â[u_0]^T g_0 there."""
    length, batch = rows.shape
    vocab, n, _ = a_hat.shape
    g = WORKSPACE.scratch("backward_g", (length, batch, n), a_hat)  # g[t] = dLoss/dh_t, time-major
    if last_only:
        g[-1].copy_(grad)
    else:
        g.copy_(grad.transpose(0, 1))
    w_back = a_hat.permute(1, 0, 2).reshape(n, vocab * n)  # w_back[i, v*N + j] = Â_v[i, j]
    z = WORKSPACE.scratch("backward_z", (batch, vocab * n), a_hat)
    z_rows = z.view(batch * vocab, n)
    g_slabs, row_list = g.unbind(0), rows.unbind(0)
    step = None if last_only else WORKSPACE.scratch("backward_step", (batch, n), a_hat)
    for t in range(length - 1, 0, -1):
        torch.mm(g_slabs[t], w_back, out=z)  # block v of row b: (Â_v^T g_t[b])^T
        if step is None:  # nothing flows in at t-1 from outside: g_{t-1} = Â[u_t]^T g_t
            torch.index_select(z_rows, 0, row_list[t], out=g_slabs[t - 1])
        else:
            torch.index_select(z_rows, 0, row_list[t], out=step)
            g_slabs[t - 1].add_(step)
    if grad_initial is not None:
        torch.mm(g_slabs[0], w_back, out=z)
        torch.index_select(z_rows, 0, row_list[0], out=grad_initial)

    outer_sums_by_token(tokens.t(), g.view(-1, n), states[:length].view(-1, n), grad_a, grad_b)  # slab t: h_{t-1}


def outer_sums_by_token(tokens: torch.Tensor, g: torch.Tensor, h: torch.Tensor, grad_a: torch.Tensor,
                        grad_b: torch.Tensor) -> None:
    """grad_a[v] = sum of g_r h_r^T and grad_b[v] = sum of g_r over the rows r whose token is v, for
    tokens [R] (any shape, flattened in row order), g and h [R, N]; rows of tokens absent from `tokens` are
    left untouched (written, not accumulated, elsewhere).

    The rows are gathered by token, then per token one GEMM and one column sum: sums in a fixed order
    (index_add_ would use atomics on CUDA and break bit-identical restores there).
    """
    vocab = grad_a.shape[0]
    n = g.shape[1]
    tokens_flat = tokens.reshape(-1)
    order = torch.argsort(tokens_flat)
    counts = torch.bincount(tokens_flat, minlength=vocab).tolist()
    g_by_token = WORKSPACE.scratch("backward_g_by_token", (g.shape[0], n), g)
    h_by_token = WORKSPACE.scratch("backward_h_by_token", (g.shape[0], n), g)
    torch.index_select(g, 0, order, out=g_by_token)
    torch.index_select(h, 0, order, out=h_by_token)
    start = 0
    for v, count in enumerate(counts):
        if count:
            g_v = g_by_token[start:start + count]
            # Written, not accumulated: an in-place addmm_ into a slice measured ~1.5x slower than mm(out=).
            torch.mm(g_v.t(), h_by_token[start:start + count], out=grad_a[v])
            torch.sum(g_v, dim=0, out=grad_b[v])
        start += count


class DenseScan(torch.autograd.Function):
    """Autograd node for the whole scan. Inputs: Â [V, N, N], b [V, N], tokens [B, L], the initial state
    h_{-1} [B, N] or None (zero), last_only. Output: all states [B, L, N], or with `last_only` the final
    state [B, N] only, which spares the backward a mostly-zero [L, B, N] gradient.
    """

    @staticmethod
    def forward(ctx: Any, a_hat: torch.Tensor, b_tab: torch.Tensor, tokens: torch.Tensor,
                initial: torch.Tensor | None, last_only: bool) -> torch.Tensor:
        rows = gather_rows(tokens, a_hat.shape[0])
        states = scan_forward(a_hat, b_tab, tokens, rows, initial)
        ctx.save_for_backward(a_hat, tokens, rows, states)
        ctx.last_only = last_only
        # The states buffer goes back to the workspace when this node is freed (after backward, or with
        # the graph if backward never runs), never earlier: retain_graph stays safe.
        weakref.finalize(ctx, WORKSPACE.give, states)
        return _output(states, last_only)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a_hat, tokens, rows, states = ctx.saved_tensors
        grad_a = torch.zeros_like(a_hat)
        grad_b = a_hat.new_zeros(a_hat.shape[:2])
        grad_initial = torch.empty_like(states[0]) if ctx.needs_input_grad[3] else None
        scan_backward(a_hat, tokens, rows, states, grad_out, ctx.last_only, grad_a, grad_b, grad_initial)
        return (grad_a if ctx.needs_input_grad[0] else None,
                grad_b if ctx.needs_input_grad[1] else None, None, grad_initial, None)


def _output(states: torch.Tensor, last_only: bool) -> torch.Tensor:
    """Fresh tensors (the buffer is reused): the last state [B, N] or all states [B, L, N]."""
    if last_only:
        return states[-1].clone()
    return states[1:].transpose(0, 1).contiguous()


def dense_scan(a_hat: torch.Tensor, b_tab: torch.Tensor, tokens: torch.Tensor, last_only: bool = False,
               initial: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = Â[u_t] h_{t-1} + b[u_t] for tokens [B, L] with values in [0, V), from h_{-1} = `initial`
    [B, N] (zero when None).

    Returns states [B, L, N], or the last state [B, N] when `last_only` (L must then be >= 1).
    Differentiable in `a_hat`, `b_tab` and `initial` through `DenseScan`; when no gradient is needed
    (e.g. under torch.no_grad()) the loop runs without autograd bookkeeping.
    """
    check_inputs(a_hat, b_tab, tokens)
    if initial is not None and initial.shape != (tokens.shape[0], a_hat.shape[1]):
        raise ValueError(f"initial must be [B, N] = {(tokens.shape[0], a_hat.shape[1])}, "
                         f"got {tuple(initial.shape)}")
    if last_only and tokens.shape[1] == 0:
        raise ValueError("last_only needs at least one token")
    if tokens.shape[1] == 0:
        return a_hat.new_zeros(tokens.shape[0], 0, a_hat.shape[1])
    needs_grad = a_hat.requires_grad or b_tab.requires_grad or (initial is not None and initial.requires_grad)
    if torch.is_grad_enabled() and needs_grad:
        return DenseScan.apply(a_hat, b_tab, tokens, initial, last_only)
    states = scan_forward(a_hat, b_tab, tokens, gather_rows(tokens, a_hat.shape[0]), initial)
    out = _output(states, last_only)
    WORKSPACE.give(states)
    return out
