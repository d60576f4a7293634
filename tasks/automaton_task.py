"""A task defined by a DFA: i.i.d. random symbols, every prefix labelled by the state it reaches."""

from __future__ import annotations

import torch

from tasks.automaton import Automaton
from tasks.base import Batch, Task, check_sample_args
from tasks.buffers import batch_arrays, to_batch
from tasks.sampling import numpy_generator, uniform_codes, weighted_symbols
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

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> Batch:
        check_sample_args(batch_size, length)
        rng = numpy_generator(generator)
        scanner = self._scanner
        tokens, labels, mask = batch_arrays(batch_size, length)
        weights = self.automaton.symbol_weights
        if weights is None:
            # Uniform i.i.d. symbols <=> uniform chunk codes: draw one number per chunk of symbols.
            codes = uniform_codes(rng, scanner.width, (batch_size, scanner.num_chunks(length)))
            scanner.decode(codes, length, out=tokens)
        else:
            tokens[...] = weighted_symbols(rng, weights, (batch_size, length))
            codes = scanner.encode(tokens)
        scanner.label(codes, length, out=labels)
        mask.fill(True)
        return to_batch(tokens, labels, mask)
