"""Word problems of finite groups: the running product of a string of generators, as an automaton.

Registry entry ``group``, parameters ``name`` (below), ``generators`` ('standard', the default, or an
integer 1..MAX_GENERATORS) and ``seed`` (0..2^32-1, only with integer generators); in a sweep::

    grid: {task: group, task_params: [{name: S5}, {name: A5, generators: 6, seed: 1}]}

A group is named by its factors joined with ``x`` (a direct product; the first factor varies slowest):

| factor | group                          | elements, in label order                                       |
|--------|--------------------------------|----------------------------------------------------------------|
| ``Sn`` | symmetric group, 2 <= n        | permutations of 0..n-1 as image tuples (f(0), .., f(n-1)), lex |
| ``An`` | alternating group, 3 <= n      | the even ones among them, lex                                  |
| ``Cn`` | cyclic group, 2 <= n           | rotations v -> v + i of Z_n, label i                           |
| ``Dn`` | dihedral group, 3 <= n         | maps v -> (-1)^p v + i of Z_n, label n p + i                   |
| ``Q8`` | quaternion group               | 1, -1, i, -i, j, -j, k, -k                                     |

e.g. ``S5``, ``A4``, ``Q8``, ``D7``, ``C3xC5``, ``C2xS3``. A product element (g_1, .., g_r) has label
(..(l_1 |G_2| + l_2) |G_3| + ..) + l_r, the factors' labels read as digits. The identity is always
label 0. Orders above MAX_ORDER are refused before anything is built.

Token conventions: token x right-multiplies by generator x, so the label of a prefix x_1 .. x_t is the
label of the product g_{x_1} g_{x_2} .. g_{x_t}, where (f g)(v) = f(g(v)) composes maps right to left.
Symbols are i.i.d. uniform over the generators.

Standard generators (``generators: standard``), one token each, in this order:

| factor | generators                                                                             |
|--------|----------------------------------------------------------------------------------------|
| ``Sn`` | the n-cycle v -> v + 1 mod n, the transposition (0 1) (just one of them for n = 2)     |
| ``An`` | the cycle v -> v + 1 on 0..n-1 (n odd) or on 1..n-1 (n even), the double transposition |
|        | (0 1)(2 3) (just the 3-cycle for n = 3)                                                |
| ``Cn`` | the rotation v -> v + 1                                                                |
| ``Dn`` | the reflection v -> -v, the rotation v -> v + 1                                        |
| ``Q8`` | i, j                                                                                   |

and a product takes its factors' generators in factor order (each acting on its own factor). So
``A5``, ``D4`` and ``C2xC4`` with standard generators are exactly the tasks of the same names.
``generators: m`` (an integer) draws m distinct non-identity elements uniformly from the group with
``seed`` (default 0), again and again until they generate the whole group (as in the PD-SSM
experiments: A5 with 2-12 generators, S5 with 4-8); the same (name, m, seed) always gives the same
generators, on any NumPy version. The seed fixes the task, not the training data (that is the trial's
seed). Tokens follow the order of the draw.

Worked example, ``S3`` (elements 012, 021, 102, 120, 201, 210 = labels 0..5; token 0 is the 3-cycle
120, token 1 the transposition 102)::

    tokens  0     0     1     0
    product 120   201   021   210
    labels  3     4     1     5

Commutativity is computed from the automaton's table, as for every automaton task: true exactly for
abelian groups (Cn and their products; S2, A3), false for S5, A4, Q8, Dn, ...

Permutation factors (S, A, Q8) are built by closure of their generators as permutations; C and D are
arithmetic on Z_n. Either way a group is its order plus a vectorised multiplication of labels, from
which the word problem's automaton (states = elements, transitions = right multiplication by each
generator) is built and then sampled and labelled like every other automaton task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tasks.automaton import Automaton
from tasks.automaton_task import AutomatonTask

MAX_ORDER = 10_000  # group order: states of the automaton and classes of the task
MAX_GENERATORS = 64  # tokens of a random generating set
MAX_SEED = 2**32 - 1
MAX_NAME_LENGTH = 100
MAX_DRAWS = 50  # random generating sets tried before giving up (a set that can work rarely fails 50 times)
NAME_HELP = (
    "factors joined by 'x', each Sn (n >= 2), An (n >= 3), Cn (n >= 2), Dn (n >= 3) or Q8, e.g. 'S5', 'A4', "
    "'D7', 'C3xC5'"
)
_FACTOR = re.compile(r"([SACD])([1-9][0-9]*)|Q8")
_MIN_N = {"S": 2, "A": 3, "C": 2, "D": 3}


@dataclass(frozen=True)
class Group:
    """A finite group on labels 0..order-1 (0 = identity) with a vectorised product of labels."""

    name: str
    order: int
    multiply: Callable[[np.ndarray, np.ndarray], np.ndarray]  # labels a, b (broadcast) -> label of a b
    standard: tuple[int, ...]  # labels of the standard generators, in token order

    def transitions(self, generators: tuple[int, ...] | list[int]) -> np.ndarray:
        """int64 [order, len(generators)]: the label of s g for every element s and generator g."""
        return self.multiply(np.arange(self.order)[:, None], np.asarray(generators, dtype=np.int64)[None, :])


def group_order(name: str) -> int:
    """The order of the named group, checking the name (ValueError: bad name, or order > MAX_ORDER)."""
    order = 1
    for letter, n in _parse(name):
        order *= _factor_order(letter, n)
        if order > MAX_ORDER:
            raise ValueError(f"group {name!r}: order above the cap of {MAX_ORDER:,} (its elements are the classes)")
    if order < 2:
        raise ValueError(f"group {name!r}: trivial; a task needs at least 2 elements")
    return order


def build_group(name: str) -> Group:
    """The named group (see the module docstring); ValueError for a bad name or an order above MAX_ORDER."""
    group_order(name)  # checks the name and the cap before anything is built
    factors = [_factor(letter, n) for letter, n in _parse(name)]
    return factors[0] if len(factors) == 1 else _product(name, factors)


def random_generators(group: Group, count: int, seed: int) -> tuple[int, ...]:
    """`count` distinct non-identity labels, drawn with `seed` until they generate `group`."""
    if count > group.order - 1:
        raise ValueError(
            f"group {group.name!r} has only {group.order - 1} non-identity elements; cannot draw {count} "
            "distinct ones"
        )
    bits = np.random.PCG64(seed)  # its raw 64-bit stream is fixed across NumPy versions
    for _ in range(MAX_DRAWS):
        candidate = tuple(1 + i for i in _distinct(bits, group.order - 1, count))  # label 0 is the identity
        if generates(group, candidate):
            return candidate
    raise ValueError(
        f"none of {MAX_DRAWS} sets of {count} random elements (seed {seed}) generates group {group.name!r}; "
        "it probably needs more generators"
    )


def _distinct(bits: np.random.PCG64, population: int, count: int) -> list[int]:
    """`count` distinct integers, uniform from 0..population-1: a partial Fisher-Yates shuffle.

    Driven by raw 64-bit draws (not Generator.choice, whose algorithm NumPy may change), so a seed picks
    the same elements on every NumPy version; the modulo bias is below population / 2^64.
    """
    moved: dict[int, int] = {}  # the sparse permutation: position -> value where it differs
    chosen = []
    for i in range(count):
        j = i + int(bits.random_raw()) % (population - i)
        chosen.append(moved.get(j, j))
        moved[j] = moved.get(i, i)
    return chosen


def generates(group: Group, generators: tuple[int, ...] | list[int]) -> bool:
    """Whether the generators reach every element from the identity (breadth-first over right products).

    Only the subgroup they generate is multiplied out, so a failing set costs little; and the search
    also steps by the generators' repeated squares g^2, g^4, .. (members of the same subgroup, at most
    MAX_GENERATORS steps in all), so a long cycle such as a rotation of C_5000 takes ~13 levels, not 5000.
    """
    steps = [int(g) for g in generators]
    powers = np.asarray(steps, dtype=np.int64)
    for _ in range(group.order.bit_length()):  # g^(2^j) for 2^j < order: enough to reach any power
        if len(steps) >= MAX_GENERATORS or not powers.size:
            break
        powers = group.multiply(powers, powers)
        powers = powers[powers != 0]
        steps += [int(g) for g in powers[: MAX_GENERATORS - len(steps)]]
    gens = np.unique(steps)[None, :]
    seen = np.zeros(group.order, dtype=bool)
    seen[0] = True
    frontier = np.array([0])
    while frontier.size:
        successors = np.unique(group.multiply(frontier[:, None], gens))
        frontier = successors[~seen[successors]]
        seen[frontier] = True
    return bool(seen.all())


def word_problem(group: Group, generators: tuple[int, ...], name: str, description: str) -> Automaton:
    """The automaton of the group's word problem: states = elements (label = element), start = identity."""
    order = group.order
    return Automaton(
        states=tuple(str(i) for i in range(order)),
        alphabet=tuple(f"g{i}" for i in range(len(generators))),
        transitions=group.transitions(generators),
        start=0,
        labels=np.arange(order, dtype=np.int64),
        num_classes=order,
        name=name,
        description=description,
    )


# --- parsing ------------------------------------------------------------------------------------------
def _parse(name: str) -> list[tuple[str, int]]:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"group name must be a string of 1..{MAX_NAME_LENGTH} characters ({NAME_HELP}), got {name!r}")
    factors = []
    for part in name.split("x"):
        match = _FACTOR.fullmatch(part)
        if match is None:
            raise ValueError(f"group {name!r}: cannot read factor {part!r}; a name is {NAME_HELP}")
        letter, n = ("Q", 8) if part == "Q8" else (match.group(1), int(match.group(2)))
        if n < _MIN_N.get(letter, 0):
            raise ValueError(f"group {name!r}: factor {part!r} needs n >= {_MIN_N[letter]}; a name is {NAME_HELP}")
        factors.append((letter, n))
    return factors


def _factor_order(letter: str, n: int) -> int:
    if n > MAX_ORDER:  # every factor has at least n elements; keeps the arithmetic small
        return MAX_ORDER + 1
    if letter in "SA":
        return math.factorial(n) // (2 if letter == "A" else 1) if n <= 12 else MAX_ORDER + 1  # 13!/2 > cap
    return {"C": n, "D": 2 * n, "Q": 8}[letter]


# --- the factors --------------------------------------------------------------------------------------
def _factor(letter: str, n: int) -> Group:
    if letter == "C":
        return Group(f"C{n}", n, lambda a, b: (a + b) % n, (1,))
    if letter == "D":
        return _dihedral(n)
    if letter == "Q":
        return _quaternion()
    return _symmetric(n) if letter == "S" else _alternating(n)


def _dihedral(n: int) -> Group:
    # Label n p + i is f(v) = (-1)^p v + i. Then (f g)(v) = f((-1)^q v + j) = (-1)^(p+q) v + (-1)^p j + i.
    def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        p, i = np.divmod(a, n)
        q, j = np.divmod(b, n)
        return n * ((p + q) % 2) + (i + np.where(p == 1, -j, j)) % n

    return Group(f"D{n}", 2 * n, multiply, (n, 1))  # reflection (p = 1, i = 0), rotation (p = 0, i = 1)


def _symmetric(n: int) -> Group:
    cycle = tuple((v + 1) % n for v in range(n))
    swap = (1, 0, *range(2, n))
    return _permutation_group(f"S{n}", n, [cycle] if n == 2 else [cycle, swap])


def _alternating(n: int) -> Group:
    if n == 3:
        return _permutation_group("A3", 3, [(1, 2, 0)])
    # An odd-length cycle is even: all of 0..n-1 when n is odd, else 1..n-1 with 0 fixed.
    cycle = tuple((v + 1) % n for v in range(n)) if n % 2 else (0, *(v % (n - 1) + 1 for v in range(1, n)))
    double = (1, 0, 3, 2, *range(4, n))
    return _permutation_group(f"A{n}", n, [cycle, double])


def _quaternion() -> Group:
    # Points 0..7 are the units 1, -1, i, -i, j, -j, k, -k; an element acts by left multiplication
    # (its regular representation), so its label is its image of the point 1, i.e. itself.
    units = ["1", "-1", "i", "-i", "j", "-j", "k", "-k"]
    table = {("i", "i"): "-1", ("j", "j"): "-1", ("k", "k"): "-1", ("i", "j"): "k", ("j", "k"): "i",
             ("k", "i"): "j", ("j", "i"): "-k", ("k", "j"): "-i", ("i", "k"): "-j"}  # fmt: skip

    def times(x: str, y: str) -> str:
        sign = (x[0] == "-") != (y[0] == "-")
        x, y = x.lstrip("-"), y.lstrip("-")
        z = y if x == "1" else x if y == "1" else table[(x, y)]
        if z.startswith("-"):
            sign, z = not sign, z[1:]
        return ("-" if sign else "") + z

    def left(g: str) -> tuple[int, ...]:
        return tuple(units.index(times(g, u)) for u in units)

    return _permutation_group("Q8", 8, [left("i"), left("j")])


def _permutation_group(name: str, degree: int, generators: list[tuple[int, ...]]) -> Group:
    """Closure of permutations (image tuples) under composition; labels in lex order of the tuples."""
    identity = tuple(range(degree))
    seen = {identity}
    frontier = [identity]
    while frontier:  # breadth-first; the callers' orders are <= MAX_ORDER (checked from the name)
        frontier = [p for f in frontier for g in generators if (p := tuple(f[v] for v in g)) not in seen]
        frontier = list(dict.fromkeys(frontier))
        seen.update(frontier)
        if len(seen) > MAX_ORDER:
            raise ValueError(f"group {name!r}: more than {MAX_ORDER:,} elements")
    elements = np.array(sorted(seen), dtype=np.int64)  # [order, degree], lex order: label = row
    powers = degree ** np.arange(degree - 1, -1, -1, dtype=np.int64)
    keys = elements @ powers  # lex order of tuples = numeric order of their base-degree numbers

    def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
        composed = np.take_along_axis(elements[a.ravel()], elements[b.ravel()], axis=1)  # (f g)(v) = f(g(v))
        return np.searchsorted(keys, composed @ powers).reshape(a.shape)

    label = {tuple(row): i for i, row in enumerate(elements.tolist())}
    return Group(name, len(elements), multiply, tuple(label[g] for g in generators))


def _product(name: str, factors: list[Group]) -> Group:
    orders = [f.order for f in factors]
    weights = [math.prod(orders[i + 1 :]) for i in range(len(factors))]  # mixed radix, first factor slowest

    def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
        result = np.zeros(a.shape, dtype=np.int64)
        for factor, order, weight in zip(factors, orders, weights):
            result += weight * factor.multiply((a // weight) % order, (b // weight) % order)
        return result

    standard = tuple(weight * g for factor, weight in zip(factors, weights) for g in factor.standard)
    return Group(name, math.prod(orders), multiply, standard)



class GroupTask(AutomatonTask):
    """The word problem of `group` over `generators` (labels of elements, one token each)."""

    def __init__(self, group: Group, generators: tuple[int, ...], name: str, description: str) -> None:
        self.group = group
        self.generators = generators
        super().__init__(word_problem(group, generators, name, description))


def group_task(name: str, generators: int | str = "standard", seed: int | None = None) -> GroupTask:
    """The task of the registry entry 'group' (its parameters are validated by `tasks.registry`)."""
    group = build_group(name)
    if generators == "standard":
        chosen, task_name, which = group.standard, name, "its standard generators"
    else:
        seed = 0 if seed is None else seed
        chosen = random_generators(group, int(generators), seed)
        task_name = f"{name}({generators} random generators, seed {seed})"
        which = f"{generators} random generators (seed {seed})"
    description = f"word problem of {name} (order {group.order}) with {which}: the running product"
    return GroupTask(group, chosen, task_name, description)
