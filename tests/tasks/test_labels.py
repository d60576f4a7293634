"""Every task's labels and mask against an independent brute-force simulation, on many lengths."""

from __future__ import annotations

import pytest
import torch

import tasks
from tests.tasks import reference

LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257]
BATCH = 8


def check_against(task: tasks.Task, brute_force, length: int, seed: int) -> None:
    batch = task.sample(BATCH, length, torch.Generator().manual_seed(seed))
    assert batch.tokens.shape == batch.labels.shape == batch.mask.shape == (BATCH, length)
    assert int(batch.tokens.min()) >= 0 and int(batch.tokens.max()) < task.alphabet_size
    for b in range(BATCH):
        expected = brute_force(batch.tokens[b].tolist())
        assert batch.mask[b].tolist() == [e is not None for e in expected]
        got = batch.labels[b].tolist()
        assert [g for g, e in zip(got, expected) if e is not None] == [e for e in expected if e is not None]


@pytest.mark.parametrize("name", sorted(reference.REFERENCES))
def test_labels_match_brute_force(name: str) -> None:
    task = tasks.get(name)
    for seed, length in enumerate(LENGTHS):
        check_against(task, reference.REFERENCES[name], length, seed)


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_generic_groups_match_brute_force(n: int) -> None:
    dihedral = reference.dn(n) if n >= 3 else reference.d2
    for seed, length in enumerate([1, 6, 23, 100]):
        check_against(tasks.get("C2xCn", n=n), reference.c2xcn(n), length, seed)
        check_against(tasks.get("Dn", n=n), dihedral, length, seed)


def test_labels_use_every_class_and_stay_in_range() -> None:
    for name in reference.REFERENCES:
        task = tasks.get(name)
        batch = task.sample(256, 200, torch.Generator().manual_seed(1))
        labels = batch.labels[batch.mask]
        assert sorted(labels.unique().tolist()) == list(range(task.num_classes)), name


def test_modular_arithmetic_alternates_digits_and_operators() -> None:
    batch = tasks.get("modular_arithmetic").sample(64, 41, torch.Generator().manual_seed(3))
    digits, operators = batch.tokens[:, 0::2], batch.tokens[:, 1::2]
    assert bool(((digits >= 0) & (digits <= 4)).all()) and bool(((operators >= 5) & (operators <= 7)).all())
    assert set(digits.unique().tolist()) == set(range(5)) and set(operators.unique().tolist()) == {5, 6, 7}
    assert batch.mask[:, 0::2].all() and not batch.mask[:, 1::2].any()
    big = tasks.get("modular_arithmetic").sample(512, 100, torch.Generator().manual_seed(4)).tokens
    digit_share = torch.bincount(big[:, 0::2].flatten(), minlength=5).double() / big[:, 0::2].numel()
    operator_share = torch.bincount(big[:, 1::2].flatten() - 5, minlength=3).double() / big[:, 1::2].numel()
    assert torch.allclose(digit_share, torch.full((5,), 0.2, dtype=torch.float64), atol=0.01)
    assert torch.allclose(operator_share, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.01)


def test_modular_arithmetic_worked_examples() -> None:
    # "3 - 2 * 4" = -5 -> 0; "4 * 0 - 3" = -3 -> 2; "2 + 3 * 4 * 4" = 50 -> 0; "1 - 4 - 4" = -7 -> 3
    for text, value in [("3-2*4", 0), ("4*0-3", 2), ("2+3*4*4", 0), ("1-4-4", 3)]:
        assert reference.modular_arithmetic([int(c) if c.isdigit() else 5 + "+-*".index(c) for c in text])[-1] == value
