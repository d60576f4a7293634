"""Bounded Dyck: every sampled string stays in Dyck(k, m), labels against a Python stack, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tasks
from tasks.dyck import MAX_DEPTH, MAX_TYPES, depth_walk
from tests.tasks import reference
from tests.tasks.test_labels import check_against

LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 500]
SIZES = [(1, 1), (1, 2), (2, 2), (3, 4), (5, 3), (8, 10), (2, 40), (MAX_TYPES, MAX_DEPTH)]


@pytest.mark.parametrize("k, m", SIZES)
def test_labels_match_a_python_stack(k: int, m: int) -> None:
    task = tasks.get("dyck", k=k, m=m)
    expected = (f"Dyck({k},{m})", 2 * k, 2 * k + 1, False)
    assert (task.name, task.alphabet_size, task.num_classes, task.commutative) == expected
    assert task.description and "\n" not in task.description
    for seed, length in enumerate(LENGTHS):
        check_against(task, reference.dyck(k, m), length, seed)  # the reference asserts the string is valid


@pytest.mark.parametrize("k, m", [(1, 1), (2, 2), (3, 4), (8, 10)])
def test_every_class_and_depth_is_reached(k: int, m: int) -> None:
    batch = tasks.get("dyck", k=k, m=m).sample(256, 300, torch.Generator().manual_seed(0))
    classes = [0] + [c for c in range(1, 2 * k + 1) if m > 1 or c % 2 == 0]  # m = 1: every bracket is at depth m
    assert sorted(batch.labels.unique().tolist()) == classes
    assert sorted(batch.tokens.unique().tolist()) == list(range(2 * k)) and bool(batch.mask.all())


def test_the_walk_and_the_types_are_uniform() -> None:
    k, m = 3, 6
    batch = tasks.get("dyck", k=k, m=m).sample(512, 200, torch.Generator().manual_seed(1))
    tokens = batch.tokens.numpy()
    opens = tokens < k
    depth = np.cumsum(np.where(opens, 1, -1), axis=1)
    assert depth.min() >= 0 and depth.max() == m
    before = np.concatenate([np.zeros((len(depth), 1), dtype=depth.dtype), depth[:, :-1]], axis=1)
    assert opens[before == 0].all() and not opens[before == m].any()  # forced moves at the walls
    share = opens[(before > 0) & (before < m)].mean()  # a fair coin in between
    assert abs(share - 0.5) < 0.01
    types = np.bincount(tokens[opens], minlength=k) / opens.sum()
    np.testing.assert_allclose(types, np.full(k, 1 / k), atol=0.01)


def test_depth_walk_table() -> None:
    assert depth_walk(1).tolist() == [[1, 1], [0, 0]]
    assert depth_walk(3).tolist() == [[1, 1], [0, 2], [1, 3], [2, 2]]  # (bit 0: down, bit 1: up)


def test_worked_example() -> None:
    # The module docstring: Dyck(2, 2), tokens ( [ ] ) [ ( ) -> labels 1 4 1 0 3 2 3.
    assert reference.dyck(2, 2)([0, 1, 3, 2, 1, 0, 2]) == [1, 4, 1, 0, 3, 2, 3]


def test_deterministic_and_reusable_across_shapes() -> None:
    task = tasks.get("dyck", k=4, m=5)
    first = task.sample(64, 300, torch.Generator().manual_seed(3))
    task.sample(700, 20, torch.Generator().manual_seed(4))  # other shapes in between (scratch is reused)
    task.sample(2, 1, torch.Generator().manual_seed(4))
    again = task.sample(64, 300, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert all(t.is_contiguous() and t.dtype == d for t, d in zip(first, (torch.int64, torch.int64, torch.bool)))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"k": 0, "m": 3}, r"parameter k must be an integer in 1\.\.100, got 0"),
        ({"k": 101, "m": 3}, r"parameter k must be an integer in 1\.\.100, got 101"),
        ({"k": 2.0, "m": 3}, r"parameter k must be an integer in 1\.\.100"),
        ({"k": True, "m": 3}, r"parameter k must be an integer"),
        ({"k": "8", "m": 3}, r"parameter k must be an integer"),
        ({"k": 2, "m": 0}, r"parameter m must be an integer in 1\.\.200, got 0"),
        ({"k": 2, "m": 10**9}, r"parameter m must be an integer in 1\.\.200"),
        ({"k": 2}, r"missing required parameter\(s\) m; it accepts k, m"),
    ],
)
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=rf"task 'dyck': .*{message}"):
        tasks.get("dyck", **params)
