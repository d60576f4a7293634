"""Random draws for task sampling, made deterministically from a `torch.Generator`.

Each `sample` call takes a few 32-bit words from the torch generator (advancing it) and seeds a NumPy
PCG64 generator with them; the bulk of the draws then come from NumPy, which produces small integers
several times faster than `torch.randint`. So a task's batch is a pure function of the torch generator's
state, and a checkpointed generator resumes the exact same stream.
"""

from __future__ import annotations

import numpy as np
import torch

SEED_WORDS = 4  # 128 bits of entropy for the NumPy generator


def numpy_generator(generator: torch.Generator) -> np.random.Generator:
    """A NumPy generator seeded from (and advancing) a torch generator."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    words = torch.randint(0, 2**32, (SEED_WORDS,), generator=generator, device=generator.device).tolist()
    seed = sum(word << (32 * i) for i, word in enumerate(words))  # one 128-bit integer
    return np.random.Generator(np.random.PCG64(seed))


def uniform_codes(rng: np.random.Generator, width: int, shape: tuple[int, int]) -> np.ndarray:
    """I.i.d. uniform integers 0..width-1 (an unsigned dtype of at least 16 bits, or raw bytes)."""
    full_range = {1 << 8: np.dtype(np.uint8), 1 << 16: np.dtype(np.uint16), 1 << 32: np.dtype(np.uint32)}
    if width in full_range:  # every bit pattern is a code: raw random bytes, no rejection needed
        dtype = full_range[width]
        return np.frombuffer(rng.bytes(shape[0] * shape[1] * dtype.itemsize), dtype=dtype).reshape(shape)
    # uint16 rather than uint8 even for small widths: NumPy's bounded 8-bit path is ~3x slower.
    for dtype in (np.uint16, np.uint32):
        if width - 1 <= np.iinfo(dtype).max:
            return rng.integers(0, width, size=shape, dtype=dtype)
    return rng.integers(0, width, size=shape, dtype=np.int64)


def weighted_symbols(rng: np.random.Generator, probabilities: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """I.i.d. symbols int64 with the given probabilities (non-negative, summing to 1), by inverting the CDF."""
    alphabet_size = len(probabilities)
    cdf = np.cumsum(probabilities)
    u = rng.random(shape)  # uniform in [0, 1)
    if alphabet_size <= 16:
        # symbol = number of CDF values <= u; a few vectorised comparisons beat a binary search here.
        symbols = np.zeros(shape, dtype=np.int64)
        for boundary in cdf[:-1]:
            symbols += u >= boundary
    else:
        symbols = np.searchsorted(cdf[:-1], u, side="right")
    # Zero-weight symbols are never drawn: their CDF value equals the previous one, so u passes both
    # boundaries or neither. Only symbols past the last positive-weight one could be reached, by
    # rounding (their CDF values ~ 1 <= u), so map those back to it.
    last = int(np.flatnonzero(probabilities > 0)[-1])
    if last < alphabet_size - 1:
        np.minimum(symbols, last, out=symbols)
    return symbols
