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


class AliasTable:
    """Draws from a fixed discrete distribution over 0..n-1 in O(1) per draw (Walker's alias method).

    Used to draw whole chunk codes of a weighted automaton at once (`tasks.automaton_task`): a chunk
    of i.i.d. weighted symbols is one draw from the product distribution over chunk codes, so a batch
    costs two random numbers per chunk instead of one per symbol. A draw picks a uniform slot i and a
    uniform 32-bit r; the code is i if r < threshold[i] (= prob[i] * 2^32), else alias[i]. So each
    probability is exact to within 2^-32, and a code of probability exactly 0 is never drawn (its
    threshold is 0 and its alias has positive probability).
    """

    def __init__(self, probabilities: np.ndarray) -> None:
        p = np.asarray(probabilities, dtype=np.float64)
        n = len(p)
        scaled = p * (n / p.sum())
        prob = np.zeros(n, dtype=np.float64)
        alias = np.arange(n, dtype=np.int64)
        # Vose's pairing; zero-probability codes go last in `small` so they are paired first, while
        # `large` is certainly not empty (a rounding shortfall can only strand entries at the end).
        small = [int(i) for i in np.flatnonzero((scaled < 1) & (p > 0))] + [int(i) for i in np.flatnonzero(p == 0)]
        large = [int(i) for i in np.flatnonzero(scaled >= 1)]
        while small and large:
            s, g = small.pop(), large.pop()
            prob[s], alias[s] = scaled[s], g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1 else large).append(g)
        for i in small + large:  # left over by rounding: keep themselves (a zero one: the likeliest code)
            prob[i], alias[i] = (1.0, i) if p[i] > 0 else (0.0, int(np.argmax(p)))
        self.size = n
        # r < threshold with r uniform in 0..2^32-1. A slot of probability 1 keeps itself as alias,
        # so its threshold may stop one short of 2^32.
        self.threshold = np.minimum(np.floor(prob * 2.0**32), 2.0**32 - 1).astype(np.uint32)
        # choice[2 i + 1] = i (kept), choice[2 i] = alias[i]: one gather picks the code.
        self.choice = np.stack([alias, np.arange(n)], axis=1).reshape(-1)

    def draw(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """I.i.d. codes int64 of the given shape."""
        slot = uniform_codes(rng, self.size, shape).astype(np.intp)
        r = np.frombuffer(rng.bytes(4 * shape[0] * shape[1]), dtype=np.uint32).reshape(shape)
        keep = r < self.threshold[slot]
        slot <<= 1
        slot += keep
        return self.choice.take(slot)
