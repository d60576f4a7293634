"""Output memory for a batch: tokens, labels and mask carved out of one allocation.

Why one block. An evaluation batch ([512, 500]) has two 2 MB int64 outputs and a 256 KB mask, plus a
few hundred KB of scratch. Allocated separately, glibc's malloc settled (measured, in the benchmark
loop) into returning that memory to the OS after every call and re-faulting ~1000 fresh 4 KiB pages on
the next one: ~3 ms per batch, more than the sampling itself. With one block of 17 bytes per token
(4.35 MB there), glibc raises its mmap and heap-trim thresholds above a call's transient memory after
the first free, so later calls reuse warm memory; and when the block is fresh, NumPy asks for
transparent huge pages (it does for arrays >= 4 MiB), so it costs a few dozen faults instead of ~1000.
The three arrays are contiguous, 8-byte aligned views into the block, which is freed once all three are.
"""

from __future__ import annotations

import numpy as np
import torch

from tasks.base import Batch


def batch_arrays(batch_size: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uninitialised (tokens int64, labels int64, mask bool) arrays of shape [batch_size, length]."""
    n = batch_size * length
    block = np.empty(17 * n, dtype=np.uint8)  # 8 n bytes of tokens, 8 n of labels, n of mask
    tokens = block[: 8 * n].view(np.int64).reshape(batch_size, length)
    labels = block[8 * n : 16 * n].view(np.int64).reshape(batch_size, length)
    mask = block[16 * n :].view(np.bool_).reshape(batch_size, length)
    return tokens, labels, mask


def to_batch(tokens: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> Batch:
    """Wrap the arrays as CPU tensors without copying."""
    return Batch(torch.from_numpy(tokens), torch.from_numpy(labels), torch.from_numpy(mask))
