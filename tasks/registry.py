"""The task registry: string names (as used in sweep YAML, the CLI and code) -> task factories.

Each factory's keyword parameters are the task's parameters; `get` checks names and values against
them and raises ValueError (never TypeError) with a message naming the task and the parameter.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

from tasks import catalog
from tasks.arithmetic import ModularArithmetic
from tasks.automaton import automaton_from_spec, load_automaton
from tasks.automaton_task import AutomatonTask
from tasks.base import Task


def _group_order(task: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"task {task!r}: parameter n must be an integer >= 2, got {n!r}")
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
}


def names() -> list[str]:
    """The registered task names, sorted."""
    return sorted(_FACTORIES)


def get(name: str, **params: Any) -> Task:
    """Build the task registered as `name` with its parameters (e.g. ``get("Dn", n=8)``).

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
