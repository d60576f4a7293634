"""Batch shapes and types, determinism per seed, bad arguments, and the fast scan against the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tasks
from tasks.automaton import Automaton
from tasks.scan import ChunkedScanner

NAMED = ["parity_check", "even_pairs", "cycle_navigation", "modular_arithmetic", "C2xC4", "C2xC30", "D4", "D30", "A5"]


@pytest.mark.parametrize("name", NAMED)
def test_batch_types(name: str) -> None:
    batch = tasks.get(name).sample(5, 13, torch.Generator().manual_seed(0))
    assert isinstance(batch, tasks.Batch)
    for tensor, dtype in zip(batch, (torch.int64, torch.int64, torch.bool)):
        assert tensor.dtype == dtype and tensor.shape == (5, 13)
        assert tensor.device.type == "cpu" and tensor.is_contiguous()


@pytest.mark.parametrize("name", NAMED)
def test_deterministic_per_seed(name: str) -> None:
    task = tasks.get(name)
    first = task.sample(16, 37, torch.Generator().manual_seed(7))
    again = task.sample(16, 37, torch.Generator().manual_seed(7))
    other = task.sample(16, 37, torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first.tokens, other.tokens)
    # The generator advances: two calls in a row give different strings, reproducibly.
    generator = torch.Generator().manual_seed(7)
    one, two = task.sample(16, 37, generator), task.sample(16, 37, generator)
    assert torch.equal(one.tokens, first.tokens) and not torch.equal(one.tokens, two.tokens)


@pytest.mark.parametrize("batch_size, length", [(0, 5), (-1, 5), (5, 0), (5, -2), (2.0, 5), (5, True)])
def test_bad_sizes(batch_size: object, length: object) -> None:
    for name in ("parity_check", "modular_arithmetic"):
        with pytest.raises(ValueError, match="batch_size|length"):
            tasks.get(name).sample(batch_size, length, torch.Generator())  # type: ignore[arg-type]


def test_bad_generator() -> None:
    with pytest.raises(ValueError, match="torch.Generator"):
        tasks.get("A5").sample(2, 3, 42)  # type: ignore[arg-type]


def test_symbols_are_roughly_uniform() -> None:
    for name in ("parity_check", "cycle_navigation"):
        task = tasks.get(name)
        tokens = task.sample(512, 100, torch.Generator().manual_seed(0)).tokens
        frequencies = torch.bincount(tokens.flatten(), minlength=task.alphabet_size).double() / tokens.numel()
        assert torch.allclose(frequencies, torch.full_like(frequencies, 1 / task.alphabet_size), atol=0.01)


def random_automaton(rng: np.random.Generator, states: int, symbols: int) -> Automaton:
    return Automaton(
        states=tuple(map(str, range(states))),
        alphabet=tuple(map(str, range(symbols))),
        transitions=rng.integers(0, states, (states, symbols)),
        start=int(rng.integers(states)),
        labels=rng.integers(0, 300, states),  # > 255 classes: wider label tables
        num_classes=300,
    )


@pytest.mark.parametrize("max_entries", [1, 64, 4096, 1 << 16])
def test_chunked_scan_matches_reference_scan(max_entries: int) -> None:
    rng = np.random.default_rng(0)
    for states, symbols in [(1, 1), (2, 2), (7, 3), (60, 2), (13, 5)]:
        automaton = random_automaton(rng, states, symbols)
        scanner = ChunkedScanner(automaton.transitions, automaton.labels, automaton.start, max_entries=max_entries)
        for length in (1, 2, 3, 7, 8, 9, 30):
            tokens = rng.integers(0, symbols, (6, length)).astype(np.uint8)
            expected = automaton.labels[automaton.run(tokens)]
            got = scanner(tokens)
            assert got.dtype == np.int64 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, expected)


def test_chunked_scan_of_multi_token_words() -> None:
    rng = np.random.default_rng(1)
    automaton = random_automaton(rng, 9, 4)
    words = np.array([[0, 1, 2], [3, 3, 0], [2, 2, 2]])
    for max_entries in (1, 100, 10_000):
        scanner = ChunkedScanner(
            automaton.transitions, automaton.labels, automaton.start, words, max_entries=max_entries
        )
        k = scanner.words_per_chunk
        for length in (1, 2, 5, 6, 19):
            codes = rng.integers(0, scanner.width, (4, scanner.num_chunks(length)))
            tokens = scanner.decode(codes, length)
            # A chunk code's base-3 digits, most significant first, are its words.
            expected = [
                [t for c in row for j in range(k) for t in words[(int(c) // 3 ** (k - 1 - j)) % 3]][:length]
                for row in codes
            ]
            assert tokens.tolist() == expected
            np.testing.assert_array_equal(scanner.label(codes, length), automaton.labels[automaton.run(tokens)])
