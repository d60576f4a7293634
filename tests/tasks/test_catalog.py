"""The registry and the catalogue: names, attributes, commutativity flags, parameters and their errors."""

from __future__ import annotations

import pytest
import torch

import tasks
from tasks.base import Task

EXPECTED = {  # name: (alphabet_size, num_classes, commutative), as in PAPER.md's Tasks table
    "parity_check": (2, 2, True),
    "even_pairs": (2, 2, False),
    "cycle_navigation": (3, 5, True),
    "modular_arithmetic": (8, 5, False),
    "C2xC4": (2, 8, True),
    "C2xC30": (2, 60, True),
    "D4": (2, 8, False),
    "D30": (2, 60, False),
    "A5": (2, 60, False),
    "flip_flop": (4, 2, False),  # with its default weights
}
PARAMETRISED = {"C2xCn", "Dn", "automaton", "tomita", "dyck", "group"}  # no instance without parameters


def test_names_are_sorted_and_complete() -> None:
    assert tasks.names() == sorted(tasks.names())
    assert all(tasks.describe(name) for name in tasks.names())  # a one-line description each
    assert set(tasks.names()) == set(EXPECTED) | PARAMETRISED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_attributes_and_computed_commutativity(name: str) -> None:
    task = tasks.get(name)
    assert isinstance(task, Task)
    assert task.name == name
    assert (task.alphabet_size, task.num_classes, task.commutative) == EXPECTED[name]
    assert task.description and "\n" not in task.description


@pytest.mark.parametrize("n", [2, 3, 4, 9, 30])
def test_generic_groups(n: int) -> None:
    product, dihedral = tasks.get("C2xCn", n=n), tasks.get("Dn", n=n)
    assert (product.name, product.num_classes, product.commutative) == (f"C2xC{n}", 2 * n, True)
    # D2 = C2 x C2 is abelian: the computed flag says so; every larger dihedral group is not.
    assert (dihedral.name, dihedral.num_classes, dihedral.commutative) == (f"D{n}", 2 * n, n == 2)


def test_a5_reaches_exactly_its_60_states() -> None:
    task = tasks.get("A5")
    assert task.automaton.num_states == 60 and bool(task.automaton.reachable().all())
    batch = task.sample(512, 100, torch.Generator().manual_seed(0))
    assert sorted(batch.labels.unique().tolist()) == list(range(60))


def test_labelled_length() -> None:
    arithmetic = tasks.get("modular_arithmetic")
    assert [arithmetic.labelled_length(n) for n in (1, 2, 3, 4, 40, 41, 500)] == [1, 1, 3, 3, 39, 41, 499]
    assert [tasks.get("A5").labelled_length(n) for n in (1, 2, 500)] == [1, 2, 500]
    with pytest.raises(ValueError, match="length"):
        arithmetic.labelled_length(0)


def test_unknown_task_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown task 'parity'") as error:
        tasks.get("parity")
    assert all(name in str(error.value) for name in tasks.names())


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(ValueError, match=r"'parity_check'.*unknown parameter\(s\) n; it takes no parameters"):
        tasks.get("parity_check", n=3)
    with pytest.raises(ValueError, match=r"'Dn'.*unknown parameter\(s\) m; it accepts n"):
        tasks.get("Dn", m=3)
    with pytest.raises(ValueError, match=r"'C2xC4'.*unknown parameter\(s\) n"):
        tasks.get("C2xC4", n=4)


def test_missing_parameter_is_named() -> None:
    with pytest.raises(ValueError, match=r"'C2xCn'.*missing required parameter\(s\) n"):
        tasks.get("C2xCn")


@pytest.mark.parametrize("n", [1, 0, -3, 2.5, "4", True])
@pytest.mark.parametrize("name", ["C2xCn", "Dn"])
def test_invalid_group_order(name: str, n: object) -> None:
    with pytest.raises(ValueError, match=rf"'{name}'.*n must be an integer >= 2"):
        tasks.get(name, n=n)
