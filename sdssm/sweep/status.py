"""`sdssm-sweep status`: per sweep, trial counts by status, the running trials, the failed ones."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from sdssm.sweep.store import FAILED, RUNNING, STATUSES, Store, StoreError, Trial


def status_view(store: Store, sweeps: Sequence[str] | None = None) -> Group:
    known = store.sweep_names()
    if sweeps:
        unknown = [name for name in sweeps if name not in known]
        if unknown:
            raise StoreError(f"no sweep named {', '.join(unknown)} in {store.url} "
                             f"(sweeps: {', '.join(known) or 'none yet'})")
    names = list(sweeps) if sweeps else known
    if not names:
        return Group(Text(f"no sweeps in {store.url} yet"))
    parts: list[Table | Text] = []
    counts_table = Table(title="trials by status", title_justify="left")
    counts_table.add_column("sweep")
    for status in STATUSES:
        counts_table.add_column(status, justify="right")
    counts_table.add_column("total", justify="right")
    running_rows, failed_rows = [], []
    for name in names:
        trials = store.trials([name])
        counts = Counter(t.status for t in trials)
        counts_table.add_row(name, *[str(counts[s]) if counts[s] else "·" for s in STATUSES], str(len(trials)))
        for t in trials:
            label = _label(t)
            if t.status == RUNNING:
                progress = f"step {t.steps or 0}"
                running_rows.append((name, label, progress, t.node or "", t.error or ""))
            elif t.status == FAILED:
                failed_rows.append((name, label, str(t.attempts), _first_error_line(t.error or "")))
    parts.append(counts_table)
    if running_rows:
        table = Table(title="running", title_justify="left")
        for column in ("sweep", "trial", "progress", "node", "note"):
            table.add_column(column)
        for row in running_rows:
            table.add_row(*row)
        parts.append(table)
    if failed_rows:
        table = Table(title="failed", title_justify="left")
        for column in ("sweep", "trial", "attempts", "error"):
            table.add_column(column)
        for row in failed_rows:
            table.add_row(*row)
        parts.append(table)
    return Group(*parts)


def _label(t: Trial) -> str:
    extra = f" k={t.k} p={t.p:g}" if t.k is not None and t.p is not None else ""
    return f"{t.variant}/{t.readout} {t.task_label}{extra} lr={t.lr:g} seed={t.seed} [{t.key}]"


def _first_error_line(error: str) -> str:
    """The most telling line of a Ray error text: the exception line if there is one."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line
    return lines[0] if lines else ""
