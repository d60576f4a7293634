"""Group word problems: orders, element order and labels against explicit permutation products, random
generating sets, the equivalence with the paper's group tasks, and bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tasks
from tasks import groups
from tests.tasks import reference
from tests.tasks.test_labels import check_against

ORDERS = {
    "S2": 2, "S3": 6, "S4": 24, "S5": 120, "A3": 3, "A4": 12, "A5": 60, "A6": 360, "Q8": 8,
    "C2": 2, "C7": 7, "D3": 6, "D4": 8, "D7": 14, "C2xC4": 8, "C3xC5": 15, "C4xC6": 24, "C2xS3": 12,
    "Q8xC3": 24, "D4xC2xC3": 48,
}  # fmt: skip
COMMUTATIVE = {"S2", "A3", "C2", "C7", "C2xC4", "C3xC5", "C4xC6"}  # S2 = C2 and A3 = C3 are abelian
LENGTHS = [1, 2, 3, 7, 16, 33, 100, 257]


@pytest.mark.parametrize("name", sorted(ORDERS))
def test_order_flags_and_labels_with_standard_generators(name: str) -> None:
    task = tasks.get("group", name=name)
    ref = reference.group(name)
    assert len(ref.elements) == ORDERS[name]
    assert (task.name, task.num_classes, task.group.order) == (name, ORDERS[name], ORDERS[name])
    assert task.alphabet_size == len(ref.standard) and task.commutative == (name in COMMUTATIVE)
    assert task.description and "\n" not in task.description
    # The standard generators sit at the documented labels, and every prefix is the running product.
    assert [ref.elements[g] for g in task.generators] == ref.standard
    for seed, length in enumerate(LENGTHS):
        check_against(task, ref.word(ref.standard), length, seed)


@pytest.mark.parametrize("n", [3, 4, 5, 9, 30])
def test_dihedral_and_cyclic_products_of_any_size(n: int) -> None:
    dihedral, cyclic = tasks.get("group", name=f"D{n}"), tasks.get("group", name=f"C{n}xC{n + 1}")
    assert (dihedral.num_classes, dihedral.commutative) == (2 * n, False)
    assert (cyclic.num_classes, cyclic.commutative) == (n * (n + 1), True)
    assert tasks.get("group", name=f"C{n}").commutative


@pytest.mark.parametrize("name", ["A5", "D4", "D30", "C2xC4", "C2xC30"])
def test_standard_generators_give_the_paper_tasks(name: str) -> None:
    group, paper = tasks.get("group", name=name), tasks.get(name)
    assert (group.alphabet_size, group.num_classes) == (paper.alphabet_size, paper.num_classes)
    one = group.sample(32, 77, torch.Generator().manual_seed(5))
    two = paper.sample(32, 77, torch.Generator().manual_seed(5))
    assert all(torch.equal(a, b) for a, b in zip(one, two))


def test_worked_example() -> None:
    # The module docstring's S3 example: tokens 0 0 1 0 -> products 120 201 021 210 -> labels 3 4 1 5.
    task = tasks.get("group", name="S3")
    assert task.automaton.run([[0, 0, 1, 0]]).tolist() == [[3, 4, 1, 5]]
    assert groups.build_group("Q8").standard == (2, 4)  # i and j in 1, -1, i, -i, j, -j, k, -k


@pytest.mark.parametrize(
    "name, counts", [("A5", range(2, 13)), ("S5", range(4, 9)), ("Q8", [2, 3]), ("C3xC5", [1, 2])]
)
def test_random_generators_generate_the_group(name: str, counts: range) -> None:
    ref = reference.group(name)
    for count in counts:
        task = tasks.get("group", name=name, generators=count, seed=count)
        chosen = [ref.elements[g] for g in task.generators]
        assert len(set(task.generators)) == count == task.alphabet_size and 0 not in task.generators
        assert ref.closure(chosen) == set(ref.elements), (name, count)  # they generate the whole group
        assert task.name == f"{name}({count} random generators, seed {count})"
        check_against(task, ref.word(chosen), 60, count)


def test_random_generators_are_deterministic_per_seed() -> None:
    first = tasks.get("group", name="S5", generators=6, seed=3).generators
    assert tasks.get("group", name="S5", generators=6, seed=3).generators == first
    default_seed = tasks.get("group", name="S5", generators=6).generators
    assert default_seed == tasks.get("group", name="S5", generators=6, seed=0).generators
    others = {tasks.get("group", name="S5", generators=6, seed=s).generators for s in range(4, 8)}
    assert len(others | {first}) > 1


def test_random_generators_are_pinned() -> None:
    # The draw uses only PCG64's raw stream, fixed across NumPy versions: a sweep's task never drifts.
    assert tasks.get("group", name="A5", generators=4, seed=1).generators == (18, 12, 28, 30)
    assert tasks.get("group", name="S5", generators=8).generators == (50, 21, 116, 73, 76, 82, 105, 45)


def test_distinct_draws_are_uniform() -> None:
    bits, counts = np.random.PCG64(0), np.zeros(7)
    for _ in range(6000):
        chosen = groups._distinct(bits, 7, 3)
        assert len(set(chosen)) == 3 and all(0 <= c < 7 for c in chosen)
        counts[chosen] += 1
    np.testing.assert_allclose(counts / counts.sum(), np.full(7, 1 / 7), atol=0.01)


def test_generates() -> None:
    s4 = groups.build_group("S4")
    assert groups.generates(s4, s4.standard) and not groups.generates(s4, s4.standard[:1])
    c = groups.build_group("C2xC4999")  # cyclic of order 9998: one long cycle, walked by repeated squares
    assert groups.generates(c, [4999 + 1]) and groups.generates(c, [4999 + 2])  # (1, 1) and (1, 2)
    assert not groups.generates(c, [1]) and not groups.generates(c, [4999])  # (0, 1) and (1, 0)


def test_order_cap() -> None:
    assert groups.group_order("C10000") == 10_000 == groups.MAX_ORDER
    assert tasks.get("group", name="C100xC100").num_classes == 10_000
    message = r"task 'group': parameter name: group '.*': order above the cap of 10,000"
    for name in ("S8", "A8", "C10001", "C5001xC2", "D5001", "S99999999999999", "C2x" * 14 + "C2"):
        with pytest.raises(ValueError, match=message):
            tasks.get("group", name=name)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"name": "Z5"}, r"parameter name: group 'Z5': cannot read factor 'Z5'; a name is factors joined by 'x'"),
        ({"name": "s5"}, r"cannot read factor 's5'"),
        ({"name": "S05"}, r"cannot read factor 'S05'"),
        ({"name": "C3xx"}, r"cannot read factor ''"),
        ({"name": "C3×C5"}, r"cannot read factor"),
        ({"name": "S1"}, r"factor 'S1' needs n >= 2"),
        ({"name": "A2"}, r"factor 'A2' needs n >= 3"),
        ({"name": "D2"}, r"factor 'D2' needs n >= 3"),
        ({"name": "C1"}, r"factor 'C1' needs n >= 2"),
        ({"name": ""}, r"parameter name: group name must be a string of 1\.\.100 characters"),
        ({"name": 5}, r"group name must be a string"),
        ({"name": "C2" + "xC2" * 60}, r"group name must be a string of 1\.\.100 characters"),
        ({"name": "S5", "generators": 0}, r"parameter generators must be 'standard' or an integer in 1\.\.64"),
        ({"name": "S5", "generators": 65}, r"generators must be 'standard' or an integer in 1\.\.64"),
        ({"name": "S5", "generators": "std"}, r"generators must be 'standard' or an integer"),
        ({"name": "S5", "generators": True}, r"generators must be 'standard' or an integer"),
        ({"name": "S5", "generators": 2.0}, r"generators must be 'standard' or an integer"),
        ({"name": "S5", "seed": 1}, r"parameter seed only applies when generators is an integer"),
        ({"name": "S5", "generators": 4, "seed": -1}, r"parameter seed must be an integer in 0\.\.4,294,967,295"),
        ({"name": "S5", "generators": 4, "seed": 2**32}, r"parameter seed must be an integer in 0\.\.4,294,967,295"),
        ({"name": "S5", "generators": 4, "seed": "0"}, r"parameter seed must be an integer"),
        ({"name": "C2xC2", "generators": 4}, r"parameter generators: group 'C2xC2' has only 3 non-identity elements"),
        ({"name": "S5", "generators": 1}, r"parameter generators: none of 50 sets of 1 random elements .*'S5'.*more"),
        ({"name": "C2xC2xC2", "generators": 2}, r"none of 50 sets of 2 random elements"),
    ],
)
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        tasks.get("group", **params)
    assert str(error.value).startswith("task 'group': parameter ")


def test_name_is_required_and_a_keyword() -> None:
    with pytest.raises(ValueError, match=r"'group'.*missing required parameter\(s\) name; it accepts name, generators"):
        tasks.get("group")
    with pytest.raises(ValueError, match=r"'group'.*unknown parameter\(s\) order"):
        tasks.get("group", name="S5", order=120)
