"""The task registry: string names (as used in sweep YAML, the CLI and code) -> task factories.

Each factory's keyword parameters are the task's parameters; `get` checks names and values against
them and raises ValueError (never TypeError) with a message naming the task and the parameter.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from typing import Any

from tasks import catalog, dyck, groups, tomita
from tasks.arithmetic import ModularArithmetic
from tasks.automaton import automaton_from_spec, load_automaton
from tasks.automaton_task import AutomatonTask
from tasks.base import Task
from tasks.flip_flop import flip_flop


MAX_N = groups.MAX_ORDER // 2  # Dn and C2xCn have 2n elements (states and classes): the groups' cap


def _group_order(task: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_N:
        raise ValueError(f"task {task!r}: parameter n must be an integer >= 2 and <= {MAX_N:,} (MAX_N: the "
                         f"group's 2n elements stay within MAX_ORDER = {groups.MAX_ORDER:,}), got {n!r}")
    return n


def _c2xcn(n: int) -> Task:
    return AutomatonTask(catalog.c2xcn(_group_order("C2xCn", n)))


def _dn(n: int) -> Task:
    return AutomatonTask(catalog.dn(_group_order("Dn", n)))


def _automaton(spec: dict[str, Any] | None = None, path: str | os.PathLike[str] | None = None) -> Task:
    """A user automaton from `spec` (a mapping) or `path` (a YAML file); see tasks.automaton."""
    if (spec is None) == (path is None):
        raise ValueError("task 'automaton': give exactly one of the parameters spec (a mapping) or path (a YAML file)")
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"task 'automaton': parameter path must be a file path, got {type(path).__name__}")
        return AutomatonTask(load_automaton(path))
    return AutomatonTask(automaton_from_spec(spec))


def _integer(task: str, param: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"task {task!r}: parameter {param} must be an integer in {low}..{high:,}, got {value!r}")
    return value


def _probability(task: str, param: str, value: Any, low: str) -> float:
    """A number in (0, 1] (low="(0") or [0, 1] (low="[0")."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value <= 1
    if not ok or (value <= 0 if low == "(0" else value < 0):
        raise ValueError(f"task {task!r}: parameter {param} must be a number in {low}, 1], got {value!r}")
    return float(value)


def _flip_flop(p_write: float = 0.1, p_read: float = 0.1) -> Task:
    """Flip-flop: write 0 / write 1 / ignore / read; see tasks.flip_flop."""
    p_write = _probability("flip_flop", "p_write", p_write, "(0")
    p_read = _probability("flip_flop", "p_read", p_read, "[0")
    if p_write + p_read > 1 + 1e-9:
        raise ValueError(
            f"task 'flip_flop': parameters p_write + p_read must be at most 1 (ignore takes the rest), "
            f"got {p_write:g} + {p_read:g}"
        )
    return AutomatonTask(flip_flop(p_write, p_read))


def _tomita(n: int) -> Task:
    """Tomita grammar n (1..7); see tasks.tomita."""
    return AutomatonTask(tomita.tomita(_integer("tomita", "n", n, 1, tomita.NUM_GRAMMARS)))


def _dyck(k: int, m: int) -> Task:
    """Dyck(k, m): k bracket types, depth <= m; see tasks.dyck."""
    return dyck.Dyck(_integer("dyck", "k", k, 1, dyck.MAX_TYPES), _integer("dyck", "m", m, 1, dyck.MAX_DEPTH))


def _group(name: str, generators: int | str = "standard", seed: int | None = None) -> Task:
    """The word problem of a named finite group; see tasks.groups."""
    try:
        groups.group_order(name)  # checks the name and the order cap before anything is built
    except ValueError as error:
        raise ValueError(f"task 'group': parameter name: {error}") from None
    if generators != "standard" and (
        isinstance(generators, bool) or not isinstance(generators, int) or not 1 <= generators <= groups.MAX_GENERATORS
    ):
        raise ValueError(
            f"task 'group': parameter generators must be 'standard' or an integer in 1..{groups.MAX_GENERATORS} "
            f"(that many random elements), got {generators!r}"
        )
    if seed is not None:
        if generators == "standard":
            raise ValueError("task 'group': parameter seed only applies when generators is an integer (random ones)")
        _integer("group", "seed", seed, 0, groups.MAX_SEED)
    try:
        return groups.group_task(name, generators, seed)
    except ValueError as error:  # random generators that cannot be drawn
        raise ValueError(f"task 'group': parameter generators: {error}") from None


_FACTORIES: dict[str, Callable[..., Task]] = {
    "parity_check": lambda: AutomatonTask(catalog.parity_check()),
    "even_pairs": lambda: AutomatonTask(catalog.even_pairs()),
    "cycle_navigation": lambda: AutomatonTask(catalog.cycle_navigation()),
    "modular_arithmetic": ModularArithmetic,
    "C2xC4": lambda: _c2xcn(4),
    "C2xC30": lambda: _c2xcn(30),
    "C2xCn": _c2xcn,
    "D4": lambda: _dn(4),
    "D30": lambda: _dn(30),
    "Dn": _dn,
    "A5": lambda: AutomatonTask(catalog.a5()),
    "automaton": _automaton,
    "flip_flop": _flip_flop,
    "tomita": _tomita,
    "dyck": _dyck,
    "group": _group,
}


# One line per task: what it is and where it comes from (`sdssm-sweep validate` and the README list them).
DESCRIPTIONS: dict[str, str] = {
    "parity_check": "number of 1s mod 2 over {0, 1} (SD-SSM paper; Deletang et al.)",
    "even_pairs": "first symbol = last symbol over {0, 1} (SD-SSM paper; Deletang et al.)",
    "cycle_navigation": "position mod 5 after steps -1, 0, +1 (SD-SSM paper; Deletang et al.)",
    "modular_arithmetic": "value mod 5 of digits 0-4 with + - * ('*' binds tighter) (SD-SSM paper)",
    "C2xC4": "word problem of C2 x C4: toggle and move (SD-SSM paper)",
    "C2xC30": "word problem of C2 x C30: toggle and move (SD-SSM paper)",
    "C2xCn": "word problem of C2 x Cn, parameter n",
    "D4": "word problem of the dihedral group D4: toggle and move (SD-SSM paper)",
    "D30": "word problem of the dihedral group D30: toggle and move (SD-SSM paper)",
    "Dn": "word problem of the dihedral group Dn, parameter n",
    "A5": "word problem of A5 with two generators (SD-SSM paper)",
    "automaton": "a user automaton from a YAML file (path) or mapping (spec)",
    "flip_flop": "last written bit under write-0/write-1/ignore/read, parameters p_write, p_read (Sarrof et al.)",
    "tomita": "membership in Tomita grammar n = 1..7 over {0, 1} (Sarrof et al.)",
    "dyck": "bounded Dyck(k, m): top bracket type and whether depth m is reached (Sarrof et al.)",
    "group": "word problem of a named finite group (S5, A4, Q8, D7, C3xC5...), standard or m random "
             "generators (PD-SSM; Grazzi et al.)",
}


def names() -> list[str]:
    """The registered task names, sorted."""
    return sorted(_FACTORIES)


def describe(name: str) -> str:
    """The task's one-line description (see DESCRIPTIONS); ValueError for an unknown name."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(names())}")
    return DESCRIPTIONS[name]


def get(name: str, /, **params: Any) -> Task:
    """Build the task registered as `name` with its parameters (e.g. ``get("Dn", n=8)``).

    `name` is positional-only, so a task may itself have a parameter called name (``get("group", name="S5")``).

    Raises ValueError for an unknown name (listing the known ones), an unknown or missing parameter
    (listing the accepted ones), or an invalid value.
    """
    factory = _FACTORIES.get(name) if isinstance(name, str) else None
    if factory is None:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(names())}")
    signature = inspect.signature(factory)
    accepted = list(signature.parameters)
    accepts = f"it accepts {', '.join(accepted)}" if accepted else "it takes no parameters"
    unknown = [key for key in params if key not in signature.parameters]
    if unknown:
        raise ValueError(f"task {name!r}: unknown parameter(s) {', '.join(unknown)}; {accepts}")
    missing = [
        key for key, p in signature.parameters.items() if p.default is inspect.Parameter.empty and key not in params
    ]
    if missing:
        raise ValueError(f"task {name!r}: missing required parameter(s) {', '.join(missing)}; {accepts}")
    return factory(**params)
