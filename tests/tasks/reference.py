"""Brute-force, per-string reference labels, written independently of `tasks` (plain Python, no tables).

Each function maps one string (a list of token ids) to the label of every prefix, None where a prefix
has no label. Group tasks compose permutation tuples (quaternions for Q8); arithmetic evaluates the
expression with `eval`; Tomita grammars are regexes or counts; Dyck runs a Python stack.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable


def parity_check(tokens: list[int]) -> list[int | None]:
    return [sum(tokens[: t + 1]) % 2 for t in range(len(tokens))]


def even_pairs(tokens: list[int]) -> list[int | None]:
    # Count unequal adjacent pairs in each prefix.
    return [sum(tokens[i] != tokens[i + 1] for i in range(t)) % 2 for t in range(len(tokens))]


def cycle_navigation(tokens: list[int]) -> list[int | None]:
    step = {0: -1, 1: 0, 2: +1}
    return [sum(step[x] for x in tokens[: t + 1]) % 5 for t in range(len(tokens))]


def c2xcn(n: int) -> Callable[[list[int]], list[int | None]]:
    def labels(tokens: list[int]) -> list[int | None]:
        out: list[int | None] = []
        for t in range(len(tokens)):
            prefix = tokens[: t + 1]
            toggles, moves = prefix.count(0), prefix.count(1)
            out.append(n * (toggles % 2) + moves % n)
        return out

    return labels


def _compose(f: tuple[int, ...], g: tuple[int, ...]) -> tuple[int, ...]:
    """(f o g)(x) = f(g(x)), permutations as tuples of images."""
    return tuple(f[g[x]] for x in range(len(g)))


def dn(n: int) -> Callable[[list[int]], list[int | None]]:
    """Dn as permutations of Z_n: the state is the map f(x) = i + (-1)^p x, built by composing.

    Reading a symbol right-multiplies f by its generator: toggle r(x) = -x, move m(x) = x + 1. The label
    n p + i is decoded from the permutation: i = f(0), and p = 0 iff f(1) = i + 1 (needs n >= 3).
    """
    assert n >= 3, "a permutation of Z_2 cannot tell a reflection from a rotation"
    generators = {0: tuple((-x) % n for x in range(n)), 1: tuple((x + 1) % n for x in range(n))}

    def labels(tokens: list[int]) -> list[int | None]:
        f = tuple(range(n))
        out: list[int | None] = []
        for x in tokens:
            f = _compose(f, generators[x])
            i = f[0]
            p = 0 if f[1] == (i + 1) % n else 1
            out.append(n * p + i)
        return out

    return labels


def d2(tokens: list[int]) -> list[int | None]:
    """D2 straight from the rule (n = 2: a move adds (-1)^p = +-1, the same mod 2)."""
    p = i = 0
    out: list[int | None] = []
    for x in tokens:
        if x == 0:
            p ^= 1
        else:
            i = (i + (1 if p == 0 else -1)) % 2
        out.append(2 * p + i)
    return out


def _is_even(perm: tuple[int, ...]) -> bool:
    # Parity via cycle decomposition (not inversions, unlike the implementation).
    seen, transpositions = set(), 0
    for start in range(len(perm)):
        length, x = 0, start
        while x not in seen:
            seen.add(x)
            x = perm[x]
            length += 1
        transpositions += max(length - 1, 0)
    return transpositions % 2 == 0


A5_ELEMENTS = sorted(p for p in itertools.permutations(range(5)) if _is_even(p))


def a5(tokens: list[int]) -> list[int | None]:
    s = (0, 1, 2, 3, 4)
    out: list[int | None] = []
    for x in tokens:
        s = (s[1], s[2], s[3], s[4], s[0]) if x == 0 else (s[1], s[0], s[3], s[2], s[4])
        out.append(A5_ELEMENTS.index(s))
    return out


def modular_arithmetic(tokens: list[int]) -> list[int | None]:
    text = "".join(str(x) if x < 5 else "+-*"[x - 5] for x in tokens)
    return [eval(text[: t + 1]) % 5 if t % 2 == 0 else None for t in range(len(tokens))]  # noqa: S307



# --- the languages of the neighbouring papers ---------------------------------------------------------
def flip_flop(tokens: list[int]) -> list[int | None]:
    """0 = write 0, 1 = write 1, 2 = ignore, 3 = read; the memory starts at 0."""
    bit, out = 0, []
    for x in tokens:
        if x in (0, 1):
            bit = x
        out.append(bit)
    return out


# Tomita n as a predicate on the string of 0/1 characters, straight from the grammars' definitions.
TOMITA: dict[int, Callable[[str], bool]] = {
    1: lambda s: re.fullmatch(r"1*", s) is not None,
    2: lambda s: re.fullmatch(r"(10)*", s) is not None,
    # No maximal run of 1s of odd length directly followed by a maximal run of 0s of odd length.
    3: lambda s: re.search(r"(?<!1)(?:11)*1(?:00)*0(?!0)", s) is None,
    4: lambda s: "000" not in s,
    5: lambda s: s.count("0") % 2 == 0 and s.count("1") % 2 == 0,
    6: lambda s: (s.count("0") - s.count("1")) % 3 == 0,
    7: lambda s: re.fullmatch(r"0*1*0*1*", s) is not None,
}


def tomita(n: int) -> Callable[[list[int]], list[int | None]]:
    def labels(tokens: list[int]) -> list[int | None]:
        text = "".join(map(str, tokens))
        return [int(TOMITA[n](text[: t + 1])) for t in range(len(text))]

    return labels


def dyck(k: int, m: int) -> Callable[[list[int]], list[int | None]]:
    """A Python stack; asserts the string is a prefix of a Dyck(k, m) word.

    Label 0 for an empty stack, else 1 + 2 * (type on top) + (1 if the depth is m else 0).
    """

    def labels(tokens: list[int]) -> list[int | None]:
        stack: list[int] = []
        out: list[int | None] = []
        for x in tokens:
            if x < k:
                stack.append(x)
                assert len(stack) <= m, f"depth {len(stack)} > {m}"
            else:
                assert stack and stack[-1] == x - k, f"{x} closes nothing or the wrong bracket"
                stack.pop()
            out.append(0 if not stack else 1 + 2 * stack[-1] + (len(stack) == m))
        return out

    return labels


# --- groups as explicit elements: permutations (image tuples), quaternions, tuples for products ---------
class RefGroup:
    """Elements listed in label order, a product, and the standard generators (as elements)."""

    def __init__(self, elements: list, multiply: Callable, standard: list) -> None:
        self.elements = elements
        self.multiply = multiply
        self.standard = standard
        self.label = {e: i for i, e in enumerate(elements)}
        assert len(self.label) == len(elements), "duplicate elements"

    def word(self, generators: list) -> Callable[[list[int]], list[int | None]]:
        """Labels of the running products g_{x_1} .. g_{x_t} for the given generator elements."""

        def labels(tokens: list[int]) -> list[int | None]:
            product, out = self.elements[0], []
            for x in tokens:
                product = self.multiply(product, generators[x])
                out.append(self.label[product])
            return out

        return labels

    def closure(self, generators: list) -> set:
        """The subgroup generated, by breadth-first search over right products (plain Python)."""
        seen, frontier = {self.elements[0]}, [self.elements[0]]
        while frontier:
            frontier = [p for f in frontier for g in generators if (p := self.multiply(f, g)) not in seen]
            seen.update(frontier)
        return seen


def symmetric(n: int, even_only: bool = False) -> RefGroup:
    elements = [p for p in itertools.permutations(range(n)) if _is_even(p) or not even_only]  # lex order
    cycle = tuple((v + 1) % n for v in range(n))
    if even_only:
        if n == 3:
            standard = [cycle]
        else:
            rotation = cycle if n % 2 else (0, *[(v % (n - 1)) + 1 for v in range(1, n)])
            standard = [rotation, (1, 0, 3, 2, *range(4, n))]
    else:
        standard = [cycle] if n == 2 else [cycle, (1, 0, *range(2, n))]
    return RefGroup(elements, _compose, standard)


def cyclic(n: int) -> RefGroup:
    rotations = [tuple((v + i) % n for v in range(n)) for i in range(n)]  # label i is v -> v + i
    return RefGroup(rotations, _compose, [rotations[1]])


def dihedral(n: int) -> RefGroup:
    # label n p + i is the map v -> (-1)^p v + i of Z_n
    elements = [tuple(((-1) ** p * v + i) % n for v in range(n)) for p in (0, 1) for i in range(n)]
    reflection, rotation = tuple((-v) % n for v in range(n)), tuple((v + 1) % n for v in range(n))
    return RefGroup(elements, _compose, [reflection, rotation])


def _hamilton(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    a1, b1, c1, d1 = a
    a2, b2, c2, d2 = b
    return (
        a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
        a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
        a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
        a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2,
    )


def quaternion() -> RefGroup:
    one, i, j, k = (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)
    elements = [q for unit in (one, i, j, k) for q in (unit, tuple(-c for c in unit))]  # 1, -1, i, -i, ...
    return RefGroup(elements, _hamilton, [i, j])


def product(*factors: RefGroup) -> RefGroup:
    elements = list(itertools.product(*(f.elements for f in factors)))  # first factor varies slowest

    def multiply(a: tuple, b: tuple) -> tuple:
        return tuple(f.multiply(x, y) for f, x, y in zip(factors, a, b))

    identity = [f.elements[0] for f in factors]
    standard = [
        tuple(g if j == i else identity[j] for j in range(len(factors)))
        for i, f in enumerate(factors)
        for g in f.standard
    ]
    return RefGroup(elements, multiply, standard)


def group(name: str) -> RefGroup:
    """The reference group of a name such as 'S5', 'Q8' or 'C3xC5' (same grammar as tasks.groups)."""
    factors = []
    for part in name.split("x"):
        letter, n = part[0], int(part[1:])
        factors.append(
            {"S": lambda: symmetric(n), "A": lambda: symmetric(n, even_only=True), "C": lambda: cyclic(n),
             "D": lambda: dihedral(n), "Q": quaternion}[letter]()  # fmt: skip
        )
    return factors[0] if len(factors) == 1 else product(*factors)


REFERENCES: dict[str, Callable[[list[int]], list[int | None]]] = {
    "parity_check": parity_check,
    "even_pairs": even_pairs,
    "cycle_navigation": cycle_navigation,
    "modular_arithmetic": modular_arithmetic,
    "C2xC4": c2xcn(4),
    "C2xC30": c2xcn(30),
    "D4": dn(4),
    "D30": dn(30),
    "A5": a5,
    "flip_flop": flip_flop,
}
