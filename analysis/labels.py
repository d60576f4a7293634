"""Names and orders used by every table and plot: model row labels, task column order, task facts.

One place decides how a trial is called in a report:
- model label = family of the trial's `variant` column + its readout, e.g. "SD-SSM (linear)",
  "Diagonal+B (MLP)", "RNN" (recurrent baselines show the readout only when it is not linear), + its
  supervision when the report holds a trial of that model family not supervised the paper's way ("last"),
  e.g. "SD-SSM (linear, supervision=prefixes)": trials trained differently are never one row;
- task label = one task instance, named as the task names itself: "D7" (Dn, n=7), "C2xC30", a user
  automaton's `name` (sdssm.sweep.store.task_label; two automata never share a column);
- task columns follow the paper's order (parity_check, even_pairs, cycle_navigation, modular_arithmetic,
  C2xC4, D4, A5), then other tasks alphabetically;
- whether a task's automaton is commutative (and its number of classes) comes from the store, which records
  it when the trials are registered; for a database written before it did (schema version 2), from the
  `tasks` registry when it can be imported (this imports torch: seconds), and from the paper's table
  otherwise ("unknown" for tasks none of them knows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sdssm.models.registry import FAMILIES as REGISTERED
from sdssm.models.registry import variant_labels

# variant column of the store -> family name shown in reports, in row order (sdssm/models/registry.py).
FAMILIES: dict[str, str] = variant_labels()
READOUT_NAMES: dict[str, str] = {"linear": "linear", "mlp": "MLP"}
READOUT_ORDER = ("linear", "mlp")
SUPERVISION_ORDER = ("last", "prefixes")  # the paper's first
# Families the paper compares with both readouts: their label always names the readout.
READOUT_IN_LABEL = frozenset(variant for f in REGISTERED.values() if f.readout_in_label for variant, _ in f.labels())

# Task names (the registry's, case-insensitive) in the paper's column order.
TASK_ORDER = ("parity_check", "even_pairs", "cycle_navigation", "modular_arithmetic", "c2xcn", "c2xc4",
              "c2xc30", "dn", "d4", "d30", "a5")

# Fallback facts for the paper's tasks (PAPER.md, "Tasks"): commutative automaton?, number of classes
# (None where it depends on a parameter n: 2n classes for C2xCn and Dn).
_PAPER_TASKS: dict[str, tuple[bool, int | None]] = {
    "parity_check": (True, 2),
    "even_pairs": (False, 2),
    "cycle_navigation": (True, 5),
    "modular_arithmetic": (False, 5),
    "c2xcn": (True, None),
    "c2xc4": (True, 8),
    "c2xc30": (True, 60),
    "dn": (False, None),
    "d4": (False, 8),
    "d30": (False, 60),
    "a5": (False, 60),
}

COMMUTATIVE_MARK = "†"
UNKNOWN_MARK = "?"
LEGEND = (f"{COMMUTATIVE_MARK} commutative automaton; unmarked: non-commutative; "
          f"{UNKNOWN_MARK} commutativity unknown.")


def family_label(variant: str, supervision: str | None = None) -> str:
    """'SD-SSM'; with a supervision to show, 'SD-SSM (supervision=prefixes)'."""
    family = FAMILIES.get(variant, variant)
    return f"{family} (supervision={supervision})" if supervision else family


def model_label(variant: str, readout: str, supervision: str | None = None) -> str:
    """The row label of a trial, e.g. model_label('sdssm', 'mlp') == 'SD-SSM (MLP)';
    model_label('sdssm', 'linear', 'prefixes') == 'SD-SSM (linear, supervision=prefixes)'."""
    family = FAMILIES.get(variant, variant)
    parts = []
    if variant in READOUT_IN_LABEL or readout != "linear":
        parts.append(READOUT_NAMES.get(readout, readout))
    if supervision:
        parts.append(f"supervision={supervision}")
    return f"{family} ({', '.join(parts)})" if parts else family


def model_sort_key(variant: str, readout: str, supervision: str | None = None) -> tuple[int, str, int, str, int, str]:
    """Known families in FAMILIES order, linear before MLP, supervision last before prefixes; unknown
    families after, alphabetically."""
    families = list(FAMILIES)
    rank = families.index(variant) if variant in families else len(families)
    readout_rank = READOUT_ORDER.index(readout) if readout in READOUT_ORDER else len(READOUT_ORDER)
    supervision = supervision or SUPERVISION_ORDER[0]
    supervision_rank = (SUPERVISION_ORDER.index(supervision) if supervision in SUPERVISION_ORDER
                        else len(SUPERVISION_ORDER))
    return (rank, variant, readout_rank, readout, supervision_rank, supervision)


def _natural(text: str) -> tuple[Any, ...]:
    """'Dn(n=4)' before 'Dn(n=30)': digits compare as numbers."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


def task_sort_key(task: str, task_label: str) -> tuple[int, tuple[Any, ...]]:
    name = task.lower()
    rank = TASK_ORDER.index(name) if name in TASK_ORDER else len(TASK_ORDER)
    return (rank, _natural(task_label))


@dataclass(frozen=True)
class TaskFacts:
    commutative: bool | None  # None: unknown
    num_classes: int | None

    @property
    def mark(self) -> str:
        if self.commutative is None:
            return UNKNOWN_MARK
        return COMMUTATIVE_MARK if self.commutative else ""

    @property
    def kind(self) -> str:
        if self.commutative is None:
            return "unknown"
        return "commutative" if self.commutative else "non-commutative"


def task_facts(task: str, params: dict[str, Any] | None = None,
               recorded: tuple[bool | None, int | None] | None = None) -> TaskFacts:
    """Commutativity and number of classes of a task: what the store `recorded` at registration, else the
    registry's answer, else the paper's table."""
    if recorded is not None and recorded[0] is not None:
        return TaskFacts(commutative=recorded[0], num_classes=recorded[1])
    items = tuple(sorted((params or {}).items(), key=lambda kv: kv[0]))
    try:
        return _facts_cached(task, items)
    except TypeError:  # unhashable parameter values
        return _facts_uncached(task, dict(params or {}))


@lru_cache(maxsize=None)
def _facts_cached(task: str, items: tuple[tuple[str, Any], ...]) -> TaskFacts:
    return _facts_uncached(task, dict(items))


def _facts_uncached(task: str, params: dict[str, Any]) -> TaskFacts:
    from_registry = _from_registry(task, params)
    if from_registry is not None:
        return from_registry
    commutative, classes = _PAPER_TASKS.get(task.lower(), (None, None))
    n = params.get("n")
    if classes is None and task.lower() in ("c2xcn", "dn") and isinstance(n, int):
        classes = 2 * n
    return TaskFacts(commutative=commutative, num_classes=classes)


def _from_registry(task: str, params: dict[str, Any]) -> TaskFacts | None:
    """Ask `tasks.get` (imported lazily: it may import torch, and may not exist yet)."""
    try:
        import tasks  # noqa: PLC0415

        try:
            spec = tasks.get(task, **params)
        except TypeError:
            spec = tasks.get(task)
        commutative = getattr(spec, "commutative")
    except Exception:  # noqa: BLE001 - no registry, unknown task, or a registry still being written
        return None
    classes = None
    for name in ("num_classes", "n_classes", "classes"):
        value = getattr(spec, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            classes = value
            break
    return TaskFacts(commutative=bool(commutative), num_classes=classes)


def sanitize(text: str) -> str:
    """A file-name-safe version of a label: 'Dn(n=30)' -> 'Dn_n_30'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")
    return cleaned or "task"
