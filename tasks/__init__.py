"""Regular-language tasks: a small interface (`Task`, `Batch`), the paper's tasks and user automata.

    >>> import tasks
    >>> task = tasks.get("D4")                 # or tasks.get("Dn", n=8), tasks.get("automaton", path="my.yaml")
    >>> task.alphabet_size, task.num_classes, task.commutative
    (2, 8, False)

The languages of the neighbouring papers take parameters: ``tasks.get("flip_flop", p_write=0.05)``,
``tasks.get("tomita", n=3)``, ``tasks.get("dyck", k=8, m=10)``, ``tasks.get("group", name="S5")`` or
``tasks.get("group", name="A5", generators=6, seed=0)`` (see `tasks.flip_flop`, `tasks.tomita`,
`tasks.dyck`, `tasks.groups`). See `tasks.base` for the sampling contract and `tasks.automaton` for the
automaton spec format.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.base import Batch, Task
    from tasks.registry import describe, get, names

__all__ = ["Batch", "Task", "describe", "get", "names"]

# Imported on first use (PEP 562): they import torch (seconds), and a light submodule such as
# tasks.bounded_yaml (which `report` reads claims files with) must not pay for it.
_LAZY = {"Batch": "tasks.base", "Task": "tasks.base", "describe": "tasks.registry", "get": "tasks.registry",
         "names": "tasks.registry"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tasks' has no attribute {name!r}")
