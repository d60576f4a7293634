"""Fast labelling of every prefix of a batch of strings by a DFA: a chunked scan over positions.

The obvious scan (`Automaton.run`) does one gather per position: L sequential steps. Here a whole chunk
of symbols is read per step. A chunk is k *words*; a word is a fixed sequence of m tokens (by default
every single token is a word, m = 1; modular arithmetic uses the 15 (digit, operator) pairs, m = 2).
With W words, a chunk is encoded as one number in base W::

    code = w_0 * W^(k-1) + w_1 * W^(k-2) + ... + w_(k-1)          (0 <= code < W^k = width)

and for every state s and chunk code c the tables hold

    jump[s * width + c]       = (state after reading the chunk from s) * width   (pre-scaled, see below)
    labels[s * width + c, j]  = label of the state after the first j+1 tokens of the chunk, read from s
    tokens_of[c, j]           = the j-th token of chunk c

The sequential part is L / (k m) steps of ``index = entry + code; entry = jump[index]`` on contiguous
length-B vectors (entry holds the chunk's start state already multiplied by width, so the loop needs no
multiply); afterwards every prefix label is one row gather ``labels[index]`` for all chunks at once, and
rows of at most 8 bytes are gathered as single machine words.

Sampling uniform i.i.d. words is the same as sampling uniform chunk codes, so a task can draw codes
directly (B * L / (k m) random numbers instead of B * L) and `decode` them into tokens.

k is the largest power of two with num_states * width <= max_entries and k m <= max_tokens, keeping
the tables about the size of a core's L2 cache (the built-ins use at most 33k rows, ~0.5 MiB); k = 1 with single-token words degenerates to the obvious scan.
"""

from __future__ import annotations

import numpy as np

MAX_ENTRIES = 1 << 16  # rows of the chunk tables (num_states * width); <= 16 bytes a row, so <= 1 MiB
MAX_TOKENS = 8  # tokens per chunk (a row of 8 one-byte labels is gathered as one 64-bit word)


def _smallest_uint(max_value: int) -> type[np.integer]:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _row_gather(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """table [N, r] gathered at index [...] -> [..., r]; rows of 1, 2, 4 or 8 bytes move as one word."""
    row_bytes = table.shape[1] * table.itemsize
    if row_bytes in (1, 2, 4, 8):
        words = table.view(np.dtype(f"u{row_bytes}")).reshape(-1)
        return np.take(words, index).view(table.dtype).reshape(*index.shape, table.shape[1])
    return np.take(table, index, axis=0)


def _widen(values: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """values as a contiguous int64 array, in `out` if given (one pass: drops padding and widens)."""
    if out is None:
        return values.astype(np.int64)
    np.copyto(out, values, casting="unsafe")
    return out


class ChunkedScanner:
    """Labels every prefix of token strings [B, L] with the classes of a DFA's states, k words per step."""

    def __init__(
        self,
        transitions: np.ndarray,
        labels: np.ndarray,
        start: int,
        words: np.ndarray | None = None,
        max_entries: int = MAX_ENTRIES,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        """`words` [W, m]: token ids of each word (default: every token of the alphabet alone, m = 1)."""
        transitions = np.asarray(transitions, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        num_states, alphabet_size = transitions.shape
        self.identity_words = words is None
        words = np.arange(alphabet_size)[:, None] if words is None else np.asarray(words, dtype=np.int64)
        num_words, m = words.shape
        # k: the largest power of two (so a chunk's row of labels is 1, 2, 4 or 8 bytes: one machine word)
        # with k m tokens per chunk at most max_tokens and num_states * W^k table rows at most max_entries.
        k = 1
        while 2 * k * m <= max_tokens and num_states * num_words ** (2 * k) <= max_entries:
            k *= 2
        self.num_words = num_words
        self.words_per_chunk = k
        self.tokens_per_chunk = k * m
        self.width = num_words**k  # number of chunk codes

        # tokens_of[c, :]: the k m tokens of chunk c (word j of the chunk is digit j of c in base W).
        codes = np.arange(self.width)
        word_ids = np.stack([(codes // num_words ** (k - 1 - j)) % num_words for j in range(k)], axis=1)
        tokens_of = words[word_ids].reshape(self.width, k * m)  # [width, k m]
        self.tokens_of = tokens_of.astype(_smallest_uint(alphabet_size - 1))

        # after[s, c, j]: state after the first j+1 tokens of chunk c read from s, one token at a time.
        after = np.empty((num_states, self.width, k * m), dtype=np.int64)
        state = np.broadcast_to(np.arange(num_states)[:, None], (num_states, self.width))
        for j in range(k * m):
            state = transitions[state, tokens_of[None, :, j]]
            after[:, :, j] = state
        self.jump = (after[:, :, -1] * self.width).reshape(-1)  # [S * width], pre-scaled next entry
        label_dtype = _smallest_uint(int(labels.max()))
        self.labels = np.ascontiguousarray(labels[after].reshape(-1, k * m).astype(label_dtype))
        self.start_entry = int(start) * self.width

    def num_chunks(self, length: int) -> int:
        """Chunks needed to cover `length` tokens (the last one may run past the end)."""
        return -(-length // self.tokens_per_chunk)

    def encode(self, tokens: np.ndarray) -> np.ndarray:
        """Chunk codes [B, C] of tokens [B, L] (single-token words only); a short last chunk is padded with 0s."""
        if not self.identity_words:
            raise ValueError("encode needs single-token words; sample chunk codes and decode them instead")
        batch, length = tokens.shape
        k = self.words_per_chunk
        chunks = self.num_chunks(length)
        if chunks * k != length:
            padded = np.zeros((batch, chunks * k), dtype=tokens.dtype)
            padded[:, :length] = tokens
            tokens = padded
        grouped = tokens.reshape(batch, chunks, k)
        code = grouped[:, :, 0].astype(np.int64)
        for j in range(1, k):  # Horner's rule in base W
            code *= self.num_words
            code += grouped[:, :, j]
        return code

    def decode(self, codes: np.ndarray, length: int, out: np.ndarray | None = None) -> np.ndarray:
        """Tokens int64 [B, length] of chunk codes [B, C] (C = num_chunks(length)), written to `out` if given."""
        tokens = _row_gather(self.tokens_of, codes).reshape(codes.shape[0], -1)
        return _widen(tokens[:, :length], out)

    def _entries(self, codes: np.ndarray) -> np.ndarray:
        """Table rows int64 [C, B] (start state * width + code) of every chunk of chunk codes [B, C]."""
        batch = codes.shape[0]
        codes = np.ascontiguousarray(codes.T, dtype=np.int64)  # [C, B]: one contiguous row per step
        index = np.empty_like(codes)
        entry = np.full(batch, self.start_entry, dtype=np.int64)
        jump = self.jump
        for c in range(codes.shape[0]):  # the only sequential part: C steps
            row = index[c]
            np.add(entry, codes[c], out=row)
            jump.take(row, out=entry)  # the method: np.take's wrapper costs ~1 us a call
        return index

    def label(self, codes: np.ndarray, length: int, out: np.ndarray | None = None) -> np.ndarray:
        """Labels int64 [B, length] of every prefix of the strings of chunk codes [B, C], written to `out` if given."""
        index = self._entries(codes)
        labels = _row_gather(self.labels, index.T).reshape(codes.shape[0], -1)  # [B, C k m]
        return _widen(labels[:, :length], out)

    def label_time_major(self, codes: np.ndarray, length: int) -> np.ndarray:
        """Labels [length, B] of every prefix, time-major and in the table's compact unsigned dtype.

        For callers that post-process the labels one position at a time (`tasks.dyck`): row t holds
        the labels of the prefixes of length t + 1, contiguous, with no widening to int64.
        """
        rows = _row_gather(self.labels, self._entries(codes))  # [C, B, k m]
        return np.ascontiguousarray(rows.transpose(0, 2, 1).reshape(-1, codes.shape[0])[:length])

    def __call__(self, tokens: np.ndarray) -> np.ndarray:
        """Labels int64 [B, L] of every prefix of tokens [B, L] (single-token words only)."""
        return self.label(self.encode(tokens), tokens.shape[1])
