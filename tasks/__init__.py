"""Regular-language tasks: a small interface (`Task`, `Batch`), the paper's tasks and user automata.

    >>> import tasks
    >>> task = tasks.get("D4")                 # or tasks.get("Dn", n=8), tasks.get("automaton", path="my.yaml")
    >>> task.alphabet_size, task.num_classes, task.commutative
    (2, 8, False)

See `tasks.base` for the sampling contract and `tasks.automaton` for the automaton spec format.
"""

from __future__ import annotations

from tasks.base import Batch, Task
from tasks.registry import get, names

__all__ = ["Batch", "Task", "get", "names"]
