"""Modular arithmetic (mod 5): the value of an expression like ``3 + 4 * 2 - 1``, '*' binding tighter.

Tokens: digits 0..4 are ids 0..4, '+' is 5, '-' is 6, '*' is 7. Strings alternate digit / operator,
starting with a digit, so every odd-length prefix is a complete expression and is labelled with its
value mod 5 (non-negative, as Python's %); even-length prefixes end in an operator and are masked.
Example: tokens [3, 6, 2, 7, 4] read "3 - 2 * 4" = -5, label 0 at t = 5; labels at t = 1, 3 are 3, 1.

Despite the precedence this is a regular language, recognised by a 51-state DFA that keeps the
expression's value as S + T, where T is the current (signed) product term and S the sum of the terms
before it. Reading left to right, everything mod 5:

    after a digit   v(S, T): value S + T.   '+' -> o(S + T, 1)    '-' -> o(S + T, -1)    '*' -> o(S, T)
    after operator  o(S, T): next digit d -> v(S, T * d)           (the start state is o(0, 1))

so '-' is folded into the sign of the next term, and '*' keeps multiplying into T. A digit after a
digit or an operator after an operator leads to a sink state ("error"); the sampler never produces
either, but the table must be complete. Operator and sink states get label 0 (they are masked).
"""

from __future__ import annotations

import numpy as np
import torch

from tasks.automaton import Automaton, automaton_from_spec
from tasks.base import Batch, Task, check_sample_args
from tasks.buffers import batch_arrays, to_batch
from tasks.sampling import numpy_generator, uniform_codes
from tasks.scan import ChunkedScanner

MODULUS = 5
DIGITS = [str(d) for d in range(MODULUS)]  # token ids 0..4
OPERATORS = ["+", "-", "*"]  # token ids 5, 6, 7


def arithmetic_automaton() -> Automaton:
    """The DFA of the module docstring, as a validated spec."""
    m = MODULUS
    pairs = [(s, t) for s in range(m) for t in range(m)]

    def v(s: int, t: int) -> str:
        return f"v{s}{t}"

    def o(s: int, t: int) -> str:
        return f"o{s}{t}"

    transitions: dict[str, dict[str, str]] = {"error": {x: "error" for x in DIGITS + OPERATORS}}
    for s, t in pairs:
        transitions[v(s, t)] = {
            **{d: "error" for d in DIGITS},
            "+": o((s + t) % m, 1),
            "-": o((s + t) % m, m - 1),
            "*": o(s, t),
        }
        transitions[o(s, t)] = {**{d: v(s, (t * int(d)) % m) for d in DIGITS}, **{x: "error" for x in OPERATORS}}
    labels = {state: 0 for state in transitions}
    labels.update({v(s, t): (s + t) % m for s, t in pairs})
    return automaton_from_spec(
        {
            "states": list(transitions),
            "alphabet": DIGITS + OPERATORS,
            "transitions": transitions,
            "start": o(0, 1),
            "labels": labels,
            "num_classes": m,
        },
        source="built-in task 'modular_arithmetic'",
    )


class ModularArithmetic(Task):
    """Alternating digit/operator strings (each uniform); odd-length prefixes labelled with their value mod 5."""

    name = "modular_arithmetic"
    alphabet_size = MODULUS + len(OPERATORS)
    num_classes = MODULUS
    description = "value mod 5 of an alternating digit/operator expression, '*' binds tighter (5 classes)"

    def __init__(self) -> None:
        self.automaton = arithmetic_automaton()
        self.commutative = self.automaton.is_commutative()
        # Scan (digit, operator) pairs: the 15 words d o, d in 0..4, o in 5..7; word id = 3 d + (o - 5).
        words = np.array([[d, MODULUS + o] for d in range(MODULUS) for o in range(len(OPERATORS))])
        self._scanner = ChunkedScanner(self.automaton.transitions, self.automaton.labels, self.automaton.start, words)

    def labelled_length(self, length: int) -> int:
        check_sample_args(1, length)
        return length if length % 2 == 1 else max(1, length - 1)

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> Batch:
        check_sample_args(batch_size, length)
        rng = numpy_generator(generator)
        scanner = self._scanner
        # Uniform chunk codes <=> i.i.d. uniform (digit, operator) pairs <=> independent uniform digits and
        # operators. An odd length ends on a digit: the last pair's operator falls past the end.
        codes = uniform_codes(rng, scanner.width, (batch_size, scanner.num_chunks(length)))
        tokens, labels, mask = batch_arrays(batch_size, length)
        scanner.decode(codes, length, out=tokens)
        scanner.label(codes, length, out=labels)
        mask[...] = np.arange(length) % 2 == 0  # position t (0-based) ends a prefix of odd length t + 1
        return to_batch(tokens, labels, mask)
