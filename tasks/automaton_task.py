"""A task defined by a DFA: i.i.d. random symbols, every prefix labelled by the state it reaches."""

from __future__ import annotations

import numpy as np
import torch

from tasks.automaton import Automaton
from tasks.base import Batch, Task, check_sample_args
from tasks.buffers import batch_arrays, to_batch
from tasks.sampling import AliasTable, numpy_generator, uniform_codes
from tasks.scan import ChunkedScanner


class AutomatonTask(Task):
    """Strings of i.i.d. symbols (uniform, or `automaton.symbol_weights`); label = class of the state reached.

    The built-in group and counting tasks are instances of this class (see `tasks.catalog`); users get
    one from a spec with ``tasks.get("automaton", spec={...})`` or ``path="my.yaml"``.
    """

    def __init__(self, automaton: Automaton, name: str | None = None, description: str | None = None) -> None:
        self.automaton = automaton
        self.name = name or automaton.name
        self.description = description or automaton.description
        self.alphabet_size = automaton.alphabet_size
        self.num_classes = automaton.num_classes
        self.commutative = automaton.is_commutative()
        self._scanner = ChunkedScanner(automaton.transitions, automaton.labels, automaton.start)
        self._chunks = None  # weighted symbols: the distribution of whole chunk codes
        if automaton.symbol_weights is not None:
            # A chunk code's probability is the product of its symbols' weights.
            code_weights = automaton.symbol_weights[self._scanner.tokens_of.astype(np.int64)].prod(axis=1)
            self._chunks = AliasTable(code_weights)

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> Batch:
        check_sample_args(batch_size, length)
        rng = numpy_generator(generator)
        scanner = self._scanner
        tokens, labels, mask = batch_arrays(batch_size, length)
        # I.i.d. symbols <=> i.i.d. chunk codes: draw one number per chunk of symbols (uniform, or from
        # the product distribution of the weights; a last chunk running past the end is cut off).
        shape = (batch_size, scanner.num_chunks(length))
        codes = uniform_codes(rng, scanner.width, shape) if self._chunks is None else self._chunks.draw(rng, shape)
        scanner.decode(codes, length, out=tokens)
        scanner.label(codes, length, out=labels)
        mask.fill(True)
        return to_batch(tokens, labels, mask)
