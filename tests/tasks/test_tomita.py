"""Tomita grammars: every binary string up to length 12 and sampled long strings against regexes/counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import tasks
from tests.tasks import reference
from tests.tasks.test_labels import LENGTHS, check_against

COMMUTATIVE = {1: True, 2: False, 3: False, 4: False, 5: True, 6: True, 7: False}  # 1*: "has a 0 been read"


@pytest.mark.parametrize("n", range(1, 8))
def test_every_short_string(n: int) -> None:
    task = tasks.get("tomita", n=n)
    assert (task.name, task.alphabet_size, task.num_classes, task.commutative) == (f"tomita{n}", 2, 2, COMMUTATIVE[n])
    assert task.description and "\n" not in task.description
    strings = np.array(list(itertools.product([0, 1], repeat=12)))  # all 4096; their prefixes: every shorter one
    labels = task.automaton.labels[task.automaton.run(strings)]
    expected = [reference.tomita(n)(row) for row in strings.tolist()]
    assert labels.tolist() == expected


@pytest.mark.parametrize("n", range(1, 8))
def test_sampled_strings(n: int) -> None:
    task = tasks.get("tomita", n=n)
    for seed, length in enumerate(LENGTHS + [500]):
        check_against(task, reference.tomita(n), length, seed)
    tokens = task.sample(512, 100, torch.Generator().manual_seed(0)).tokens
    assert abs(float(tokens.double().mean()) - 0.5) < 0.01  # uniform bits


def test_definitions_on_examples() -> None:
    # Spot checks of the reference itself, from the grammars' usual descriptions.
    member = {n: reference.TOMITA[n] for n in range(1, 8)}
    assert member[1]("111") and not member[1]("1101")
    assert member[2]("1010") and not member[2]("101") and not member[2]("0110")
    assert member[3]("100") and member[3]("1001") and member[3]("0110") and member[3]("11100")
    assert not member[3]("10") and not member[3]("1000") and not member[3]("0111010")
    assert member[4]("1001001") and not member[4]("10001")
    assert member[5]("0110") and not member[5]("011")
    assert member[6]("010110") and member[6]("000") and not member[6]("01001")
    assert member[7]("0011001") and not member[7]("10101")


def test_worked_example() -> None:
    # The module docstring: Tomita 3 on 1 0 0 0 1 -> 1 0 1 0 0.
    automaton = tasks.get("tomita", n=3).automaton
    assert automaton.labels[automaton.run([[1, 0, 0, 0, 1]])].tolist() == [[1, 0, 1, 0, 0]]
    assert reference.tomita(3)([1, 0, 0, 0, 1]) == [1, 0, 1, 0, 0]


@pytest.mark.parametrize("n", [0, 8, -1, 3.0, "3", True, None])
def test_bad_n(n: object) -> None:
    with pytest.raises(ValueError, match=r"task 'tomita': parameter n must be an integer in 1\.\.7, got"):
        tasks.get("tomita", n=n)
