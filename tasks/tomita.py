"""The seven Tomita grammars (Tomita 1982): membership of every prefix of a binary string.

Registry entry ``tomita``, parameter ``n`` (1..7, required); in a sweep: ``{task: tomita, task_params: {n: 3}}``.

Token conventions: symbols 0 and 1 are token ids 0 and 1; strings are i.i.d. uniform bits. The label of
a prefix is 1 if it belongs to the language, else 0 (2 classes); every prefix is labelled (the empty
string is never a prefix here).

| n | language                                                                  | DFA states |
|---|---------------------------------------------------------------------------|------------|
| 1 | 1*                                                                        | 2          |
| 2 | (10)*                                                                     | 3          |
| 3 | no odd-length run of 1s immediately followed by an odd-length run of 0s  | 5          |
|   | (runs are maximal: "10" and "1000" are out, "100" and "1001" are in)      |            |
| 4 | no 000 substring                                                          | 4          |
| 5 | an even number of 0s and an even number of 1s                             | 4          |
| 6 | (number of 0s - number of 1s) divisible by 3                              | 3          |
| 7 | 0*1*0*1*                                                                  | 5          |

Worked example, Tomita 3 on the string 1 0 0 0 1::

    prefix  1   10   100   1000   10001
    label   1   0    1     0      0        (the last 1 seals an odd run of 0s: out for good)

With uniform bits, membership of long prefixes is rare for n = 1, 2, 3, 4, 7 (their languages have
few long strings): the label is then almost always 0 beyond the first dozens of symbols. Tomita 5
and 6 stay balanced (1/4 and 1/3 of the strings are in).
"""

from __future__ import annotations

from tasks.automaton import Automaton, automaton_from_spec

NUM_GRAMMARS = 7
BITS = ["0", "1"]

# n -> (description, start state, {state: (next on 0, next on 1, accepting)})
_GRAMMARS: dict[int, tuple[str, str, dict[str, tuple[str, str, bool]]]] = {
    1: ("1*", "ones", {"ones": ("dead", "ones", True), "dead": ("dead", "dead", False)}),
    2: (
        "(10)*",
        "even",  # "even": a whole number of 10 pairs read; "one": a 1 waiting for its 0
        {"even": ("dead", "one", True), "one": ("even", "dead", False), "dead": ("dead", "dead", False)},
    ),
    3: (
        "no odd run of 1s followed by an odd run of 0s",
        "free",
        {
            "free": ("free", "odd1", True),  # no pending odd run of 1s (start, 0s after an even run of 1s)
            "odd1": ("odd0", "free", True),  # inside a run of 1s of odd length (one more 1 makes it even)
            "odd0": ("even0", "dead", False),  # odd run of 0s after an odd run of 1s: a 1 would seal it
            "even0": ("odd0", "odd1", True),  # even run of 0s after an odd run of 1s
            "dead": ("dead", "dead", False),
        },
    ),
    4: (
        "no 000 substring",
        "z0",  # zN: the string ends in N zeros (N < 3)
        {
            "z0": ("z1", "z0", True),
            "z1": ("z2", "z0", True),
            "z2": ("dead", "z0", True),
            "dead": ("dead", "dead", False),
        },
    ),
    5: (
        "even number of 0s and even number of 1s",
        "ee",  # parities of (zeros, ones): e(ven) / o(dd)
        {
            "ee": ("oe", "eo", True),
            "oe": ("ee", "oo", False),
            "eo": ("oo", "ee", False),
            "oo": ("eo", "oe", False),
        },
    ),
    6: (
        "(number of 0s - number of 1s) divisible by 3",
        "r0",  # rN: (#0 - #1) mod 3 = N
        {"r0": ("r1", "r2", True), "r1": ("r2", "r0", False), "r2": ("r0", "r1", False)},
    ),
    7: (
        "0*1*0*1*",
        "p0",  # pN: in the N-th block (0*, 1*, 0*, 1*) of the pattern
        {
            "p0": ("p0", "p1", True),
            "p1": ("p2", "p1", True),
            "p2": ("p2", "p3", True),
            "p3": ("dead", "p3", True),
            "dead": ("dead", "dead", False),
        },
    ),
}


def tomita(n: int) -> Automaton:
    """The DFA of Tomita grammar n (1..7) with label 1 on accepting states, as a validated spec."""
    language, start, table = _GRAMMARS[n]
    return automaton_from_spec(
        {
            "states": list(table),
            "alphabet": BITS,
            "transitions": {state: {"0": on0, "1": on1} for state, (on0, on1, _) in table.items()},
            "start": start,
            "labels": {state: int(accepting) for state, (_, _, accepting) in table.items()},
            "num_classes": 2,
            "name": f"tomita{n}",
            "description": f"Tomita grammar {n}, {language}: membership of every prefix (2 classes)",
        },
        source=f"built-in task 'tomita' (n={n})",
    )
