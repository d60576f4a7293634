"""Brute-force, per-string reference labels, written independently of `tasks` (plain Python, no tables).

Each function maps one string (a list of token ids) to the label of every prefix, None where a prefix
has no label. Group tasks compose permutation tuples; arithmetic evaluates the expression with `eval`.
"""

from __future__ import annotations

import itertools
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
}
