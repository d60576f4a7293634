"""Flip-flop: labels against a plain loop, the sampling weights, the worked example, bad parameters."""

from __future__ import annotations

import math

import pytest
import torch

import tasks
from tests.tasks import reference
from tests.tasks.test_labels import LENGTHS, check_against


@pytest.mark.parametrize(
    "params", [{}, {"p_write": 0.01, "p_read": 0.3}, {"p_write": 1, "p_read": 0}, {"p_write": 0.5, "p_read": 0.5}]
)
def test_labels_match_a_loop(params: dict) -> None:
    task = tasks.get("flip_flop", **params)
    assert (task.alphabet_size, task.num_classes, task.commutative) == (4, 2, False)
    for seed, length in enumerate(LENGTHS + [500]):
        check_against(task, reference.flip_flop, length, seed)


@pytest.mark.parametrize(
    "params, shares",
    [
        ({}, [0.05, 0.05, 0.8, 0.1]),  # Liu et al.'s FFL(0.8)
        ({"p_write": 0.02, "p_read": 0.5}, [0.01, 0.01, 0.48, 0.5]),
        ({"p_write": 0.3, "p_read": 0}, [0.15, 0.15, 0.7, 0.0]),
    ],
)
def test_symbol_shares(params: dict, shares: list[float]) -> None:
    tokens = tasks.get("flip_flop", **params).sample(512, 200, torch.Generator().manual_seed(0)).tokens
    counts = torch.bincount(tokens.flatten(), minlength=4).double() / tokens.numel()
    assert torch.allclose(counts, torch.tensor(shares, dtype=torch.float64), atol=0.004)
    assert all(c == 0 for c, s in zip(counts.tolist(), shares) if s == 0)  # zero weight: never drawn


def test_only_writes() -> None:
    batch = tasks.get("flip_flop", p_write=1, p_read=0).sample(64, 50, torch.Generator().manual_seed(1))
    assert torch.equal(batch.labels, batch.tokens)


def test_worked_example() -> None:
    # The module docstring: tokens 2 1 2 3 0 3 2 1 -> labels 0 1 1 1 0 0 0 1 (0 before any write).
    tokens = [2, 1, 2, 3, 0, 3, 2, 1]
    assert reference.flip_flop(tokens) == [0, 1, 1, 1, 0, 0, 0, 1]
    assert tasks.get("flip_flop").automaton.run([tokens]).tolist() == [[0, 1, 1, 1, 0, 0, 0, 1]]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"p_write": 0}, r"parameter p_write must be a number in \(0, 1\], got 0"),
        ({"p_write": -0.1}, r"parameter p_write must be a number in \(0, 1\]"),
        ({"p_write": 1.5}, r"parameter p_write must be a number in \(0, 1\], got 1\.5"),
        ({"p_write": math.nan}, r"parameter p_write must be a number"),
        ({"p_write": math.inf}, r"parameter p_write must be a number"),
        ({"p_write": "0.1"}, r"parameter p_write must be a number"),
        ({"p_write": True}, r"parameter p_write must be a number"),
        ({"p_read": -0.1}, r"parameter p_read must be a number in \[0, 1\]"),
        ({"p_read": 1.1}, r"parameter p_read must be a number in \[0, 1\]"),
        ({"p_write": 0.6, "p_read": 0.5}, r"parameters p_write \+ p_read must be at most 1 .*got 0\.6 \+ 0\.5"),
        ({"p_write": 1.0}, r"p_write \+ p_read must be at most 1"),
        ({"p_ignore": 0.5}, r"unknown parameter\(s\) p_ignore; it accepts p_write, p_read"),
    ],
)
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=rf"task 'flip_flop': .*{message}"):
        tasks.get("flip_flop", **params)
