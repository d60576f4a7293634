"""Batch shapes and types, determinism per seed, bad arguments, and the fast scan against the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tasks
from tasks.automaton import Automaton
from tasks.sampling import AliasTable
from tasks.scan import ChunkedScanner

NAMED = ["parity_check", "even_pairs", "cycle_navigation", "modular_arithmetic", "C2xC4", "C2xC30", "D4", "D30", "A5"]
CASES = [(name, {}) for name in NAMED] + [  # the languages of the neighbouring papers
    ("flip_flop", {}),
    ("tomita", {"n": 3}),
    ("dyck", {"k": 3, "m": 4}),
    ("dyck", {"k": 8, "m": 10}),
    ("group", {"name": "S5"}),
    ("group", {"name": "A5", "generators": 4, "seed": 1}),
]
IDS = [name + "".join(f"-{v}" for v in params.values()) for name, params in CASES]


@pytest.mark.parametrize("name, params", CASES, ids=IDS)
def test_batch_types(name: str, params: dict) -> None:
    batch = tasks.get(name, **params).sample(5, 13, torch.Generator().manual_seed(0))
    assert isinstance(batch, tasks.Batch)
    for tensor, dtype in zip(batch, (torch.int64, torch.int64, torch.bool)):
        assert tensor.dtype == dtype and tensor.shape == (5, 13)
        assert tensor.device.type == "cpu" and tensor.is_contiguous()


@pytest.mark.parametrize("name, params", CASES, ids=IDS)
def test_deterministic_per_seed(name: str, params: dict) -> None:
    task = tasks.get(name, **params)
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
    for task in (tasks.get("parity_check"), tasks.get("modular_arithmetic"), tasks.get("dyck", k=2, m=2)):
        with pytest.raises(ValueError, match="batch_size|length"):
            task.sample(batch_size, length, torch.Generator())  # type: ignore[arg-type]


def test_bad_generator() -> None:
    for task in (tasks.get("A5"), tasks.get("dyck", k=2, m=2)):
        with pytest.raises(ValueError, match="torch.Generator"):
            task.sample(2, 3, 42)  # type: ignore[arg-type]


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


def test_time_major_labels_match_the_labels() -> None:
    rng = np.random.default_rng(2)
    automaton = random_automaton(rng, 11, 2)
    scanner = ChunkedScanner(automaton.transitions, automaton.labels, automaton.start)
    for length in (1, 7, 8, 9, 100):
        codes = rng.integers(0, scanner.width, (5, scanner.num_chunks(length)))
        time_major = scanner.label_time_major(codes, length)
        assert time_major.shape == (length, 5) and time_major.flags.c_contiguous
        np.testing.assert_array_equal(time_major.T, scanner.label(codes, length))


@pytest.mark.parametrize(
    "weights",
    [[1.0], [1, 1], [0.7, 0.2, 0.1], [0, 3, 0, 1], [5, 0], [0, 0, 0, 1], np.random.default_rng(0).random(256)],
)
def test_alias_table_draws_the_distribution(weights: list[float]) -> None:
    probabilities = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    table = AliasTable(probabilities)
    # The exact distribution of one draw: slot i (probability 1/n) keeps itself w.p. threshold / 2^32.
    keep = table.threshold / 2.0**32
    exact = np.bincount(np.arange(len(keep)), weights=keep / len(keep), minlength=len(keep))
    exact += np.bincount(table.choice[0::2], weights=(1 - keep) / len(keep), minlength=len(keep))
    np.testing.assert_allclose(exact, probabilities, atol=1e-9)
    draws = table.draw(np.random.default_rng(1), (400, 500))
    assert draws.dtype == np.int64 and draws.shape == (400, 500)
    assert not np.isin(draws, np.flatnonzero(probabilities == 0)).any()  # zero weight: never drawn
    shares = np.bincount(draws.ravel(), minlength=len(probabilities)) / draws.size
    np.testing.assert_allclose(shares, probabilities, atol=0.004)
