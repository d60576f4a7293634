"""The paper's counting and group tasks as automaton specs (token conventions of the reference code).

Each builder returns a validated `Automaton`; `tasks.registry` wraps it in an `AutomatonTask`. Building
them as specs (the same format users write) means the built-ins go through the same validation and the
same commutativity computation as user automata.

| task             | symbols                      | state / label                                        |
|------------------|------------------------------|------------------------------------------------------|
| parity_check     | 0, 1                         | number of 1s mod 2                                   |
| even_pairs       | 0, 1                         | number of unequal adjacent pairs mod 2               |
| cycle_navigation | 0, 1, 2 = steps -1, 0, +1    | position mod 5, start 0                              |
| C2xCn            | 0 toggle, 1 move             | n * toggle_parity + position; move adds +1           |
| Dn               | 0 toggle, 1 move             | n * toggle_parity + position; move adds (-1)^parity  |
| A5               | 0: 5-cycle, 1: double swap   | index of the permuted tuple among A5 (lex order)     |
"""

from __future__ import annotations

import itertools
from typing import Any

from tasks.automaton import Automaton, automaton_from_spec

BINARY = ["0", "1"]
TOGGLE_MOVE = ["toggle", "move"]  # token 0 toggles, token 1 moves


def _build(name: str, description: str, spec: dict[str, Any]) -> Automaton:
    return automaton_from_spec({**spec, "name": name, "description": description}, source=f"built-in task {name!r}")


def parity_check() -> Automaton:
    states = ["even", "odd"]
    return _build(
        "parity_check",
        "parity of the number of 1s in a binary string (2 classes)",
        {
            "states": states,
            "alphabet": BINARY,
            "transitions": {"even": {"0": "even", "1": "odd"}, "odd": {"0": "odd", "1": "even"}},
            "start": "even",
            "labels": {"even": 0, "odd": 1},
        },
    )


def even_pairs() -> Automaton:
    # The number of unequal adjacent pairs is odd exactly when the first and last symbols differ (every
    # change of symbol flips "last == first"), so the automaton remembers (first, last): states "fl".
    pairs = ["".join(p) for p in itertools.product(BINARY, repeat=2)]
    transitions: dict[str, dict[str, str]] = {"start": {x: x + x for x in BINARY}}
    transitions.update({fl: {x: fl[0] + x for x in BINARY} for fl in pairs})
    return _build(
        "even_pairs",
        "parity of the number of unequal adjacent pairs in a binary string (2 classes)",
        {
            "states": ["start", *pairs],
            "alphabet": BINARY,
            "transitions": transitions,
            "start": "start",
            "labels": {"start": 0, **{fl: int(fl[0] != fl[1]) for fl in pairs}},
        },
    )


def cycle_navigation(size: int = 5) -> Automaton:
    steps = {"-1": -1, "0": 0, "+1": 1}  # token ids 0, 1, 2
    states = [str(i) for i in range(size)]
    return _build(
        "cycle_navigation",
        f"position on a {size}-cycle after steps -1/0/+1 from 0 ({size} classes)",
        {
            "states": states,
            "alphabet": list(steps),
            "transitions": {str(i): {s: str((i + d) % size) for s, d in steps.items()} for i in range(size)},
            "start": "0",
            "labels": {str(i): i for i in range(size)},
        },
    )


def _toggle_move(name: str, description: str, n: int, dihedral: bool) -> Automaton:
    # State (p, i): toggle parity p in {0, 1} and position i in Z_n; label n * p + i. Toggle flips p.
    # Move adds +1 (C2 x Cn) or (-1)^p (Dn: rotating after a reflection runs the other way round).
    def state(p: int, i: int) -> str:
        return f"{p},{i}"

    transitions = {
        state(p, i): {
            "toggle": state(1 - p, i),
            "move": state(p, (i + (-1) ** p if dihedral else i + 1) % n),
        }
        for p in (0, 1)
        for i in range(n)
    }
    return _build(
        name,
        description,
        {
            "states": list(transitions),
            "alphabet": TOGGLE_MOVE,
            "transitions": transitions,
            "start": state(0, 0),
            "labels": {state(p, i): n * p + i for p in (0, 1) for i in range(n)},
        },
    )


def c2xcn(n: int) -> Automaton:
    return _toggle_move(f"C2xC{n}", f"product group C2 x C{n}: toggle / move +1 ({2 * n} classes)", n, dihedral=False)


def dn(n: int) -> Automaton:
    description = f"dihedral group D{n}: toggle / move by (-1)^toggles ({2 * n} classes)"
    return _toggle_move(f"D{n}", description, n, dihedral=True)


def _is_even(perm: tuple[int, ...]) -> bool:
    inversions = sum(perm[i] > perm[j] for i in range(len(perm)) for j in range(i + 1, len(perm)))
    return inversions % 2 == 0


def a5() -> Automaton:
    # States: the 60 even permutations of (0..4) in lexicographic order (itertools yields that order);
    # the label is the index. Token 0: s <- (s1, s2, s3, s4, s0); token 1: s <- (s1, s0, s3, s2, s4).
    perms = [p for p in itertools.permutations(range(5)) if _is_even(p)]
    generators = {
        "0": lambda s: (s[1], s[2], s[3], s[4], s[0]),
        "1": lambda s: (s[1], s[0], s[3], s[2], s[4]),
    }

    def state(p: tuple[int, ...]) -> str:
        return "".join(map(str, p))

    return _build(
        "A5",
        "alternating group A5 from a 5-cycle and a double transposition (60 classes)",
        {
            "states": [state(p) for p in perms],
            "alphabet": list(generators),
            "transitions": {state(p): {x: state(g(p)) for x, g in generators.items()} for p in perms},
            "start": "01234",
            "labels": {state(p): i for i, p in enumerate(perms)},
        },
    )
