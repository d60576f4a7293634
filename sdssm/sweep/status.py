"""`sdssm-sweep status`: per sweep, trial counts by status, the running trials, the failed ones, and the
best accuracies so far per model and task of the sweep(s) in focus (those named, else the one run last).

A trial recorded as running whose sweep has no live driver (no live lease: its driver was killed) shows
as "stale (driver gone)", not as running; rerunning the sweep resumes it.

Two accuracies, labelled apart (beyond the training lengths): *peak (periodic eval)*, the best periodic
evaluation (eval_samples strings per length, during training), and *final*, the evaluation a trial ends
with (final_eval_samples strings per length), the number `sdssm-sweep report` uses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sdssm.sweep.fit import Fitted
from sdssm.sweep.store import (
    DONE_STATUSES, Store, StoreError, Trial, TrialStatus, distinct_task_labels, mask_url,
)

PEAK, FINAL = "peak (periodic eval)", "final"
STALE = "stale (driver gone)"  # a trial left running by a driver that no longer holds its sweep's lease


def status_view(store: Store, sweeps: Sequence[str] | None = None) -> Group:
    known = store.sweep_names()
    if sweeps:
        unknown = [name for name in sweeps if name not in known]
        if unknown:
            raise StoreError(f"no sweep named {', '.join(unknown)} in {mask_url(store.url)} "
                             f"(sweeps: {', '.join(known) or 'none yet'})")
    names = list(sweeps) if sweeps else known
    if not names:
        return Group(Text(f"no sweeps in {mask_url(store.url)} yet"))
    focus = list(sweeps) if sweeps else store.sweeps_by_last_run()[:1]
    parts: list[Table | Text] = []  # each table is fitted to the terminal's width (sdssm.sweep.fit)
    counts_table = Table(title="trials by status", title_justify="left")
    driven = _driven_keys(store, known)
    per_sweep = {name: store.trials([name]) for name in names}
    columns: list[str] = [str(s) for s in TrialStatus]
    if any(_state(t, driven) == STALE for trials in per_sweep.values() for t in trials):
        columns.insert(columns.index(TrialStatus.RUNNING) + 1, STALE)
    counts_table.add_column("sweep")
    for column in columns:
        counts_table.add_column(column, justify="right")
    counts_table.add_column("total", justify="right")
    running_rows, stale_rows, failed_rows, best_tables = [], [], [], []
    for name in names:
        trials = per_sweep[name]
        counts = Counter(_state(t, driven) for t in trials)
        counts_table.add_row(escape(name), *[str(counts[s]) if counts[s] else "·" for s in columns], str(len(trials)))
        labels = _labels(trials)
        running = [t for t in trials if t.status == TrialStatus.RUNNING]
        peaks = store.peak_accuracies([t.key for t in (trials if name in focus else running)])
        for t in trials:
            if t.status == TrialStatus.RUNNING:
                progress = f"step {t.steps or 0}"
                rows = stale_rows if _state(t, driven) == STALE else running_rows
                rows.append((name, labels[t.key], progress, _pct(peaks.get(t.key)), t.node or "", t.error or ""))
            elif t.status == TrialStatus.FAILED:
                failed_rows.append((name, labels[t.key], str(t.attempts), _first_error_line(t.error or "")))
        if name in focus and trials:
            best_tables.append(_best_table(name, trials, peaks))
    parts.append(counts_table)
    parts += best_tables
    if running_rows:
        table = Table(title="running", title_justify="left")
        for column in ("sweep", "trial", "progress", f"{PEAK} so far", "node", "note"):
            table.add_column(column)
        for row in running_rows:
            table.add_row(*map(escape, row))  # names, labels and notes are user text, not markup
        parts.append(table)
    if stale_rows:
        table = Table(title=f"{STALE}: left running by a driver that stopped; rerun the sweep to resume them "
                      "from their checkpoints", title_justify="left")
        for column in ("sweep", "trial", "progress", f"{PEAK} so far", "node", "note"):
            table.add_column(column)
        for row in stale_rows:
            table.add_row(*map(escape, row))
        parts.append(table)
    if failed_rows:
        table = Table(title="failed", title_justify="left")
        for column in ("sweep", "trial", "attempts", "error"):
            table.add_column(column)
        for row in failed_rows:
            table.add_row(*map(escape, row))  # a stored error is user text, not markup
        parts.append(table)
    return Group(*(Fitted(part) if isinstance(part, Table) else part for part in parts))  # 80 columns and up


def _driven_keys(store: Store, sweeps: Sequence[str]) -> set[str]:
    """Keys of the trials of every sweep that has a live driver (a live lease)."""
    live = [name for name in sweeps if store.live_lease(name) is not None]
    return {t.key for t in store.trials(live)} if live else set()


def _state(trial: Trial, driven: set[str]) -> str:
    """The trial's status, except that a running trial no live driver runs is stale (driver gone)."""
    if trial.status == TrialStatus.RUNNING and trial.key not in driven:
        return STALE
    return str(trial.status)


def _best_table(sweep: str, trials: list[Trial], peaks: dict[str, float]) -> Table:
    """Per model and task of one sweep: the best peak (periodic eval) of any trial and the best final
    evaluation of a finished trial, with how many trials are done."""
    models, tasks = _model_labels(trials), dict(zip((t.key for t in trials), distinct_task_labels(
        (t.task, _task_params(t)) for t in trials)))
    cells: dict[tuple[str, str], list[Trial]] = {}
    for t in trials:
        cells.setdefault((models[t.key], tasks[t.key]), []).append(t)
    table = Table(title=f"sweep {escape(sweep)}: best so far, beyond the training lengths", title_justify="left",
                  caption=f"{PEAK}: best periodic evaluation (eval_samples strings per length); {FINAL}: "
                          "the evaluation a trial ends with (final_eval_samples strings), as the report uses",
                  caption_justify="left")
    for column, justify in (("model", "left"), ("task", "left"), (PEAK, "right"), (FINAL, "right"),
                            ("done / trials", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for (model, task), group in sorted(cells.items()):
        finals = [t.beyond_accuracy for t in group if t.status in DONE_STATUSES and t.beyond_accuracy is not None]
        peak = max((peaks[t.key] for t in group if t.key in peaks), default=None)
        done = sum(t.status in DONE_STATUSES for t in group)
        table.add_row(escape(model), escape(task), _pct(peak), _pct(max(finals, default=None)), f"{done}/{len(group)}")
    return table


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _task_params(t: Trial) -> dict:
    params = (t.config or {}).get("task_params")
    return params if isinstance(params, dict) else {}


def _supervision(t: Trial) -> str:
    return (t.config or {}).get("supervision") or "last"


def _model_labels(trials: list[Trial]) -> dict[str, str]:
    """'sdssm/linear', with ' supervision=last' or '=prefixes' when the model has a trial not supervised
    the paper's way ('last')."""
    shown = {t.variant for t in trials if _supervision(t) != "last"}
    return {t.key: f"{t.variant}/{t.readout}" + (f" supervision={_supervision(t)}" if t.variant in shown else "")
            for t in trials}


def _labels(trials: list[Trial]) -> dict[str, str]:
    """One line per trial: model, task instance (as the report names it), hyperparameters, key."""
    models = _model_labels(trials)
    tasks = distinct_task_labels((t.task, _task_params(t)) for t in trials)
    out = {}
    for t, task in zip(trials, tasks):
        extra = f" k={t.k} p={t.p:g}" if t.k is not None and t.p is not None else ""
        out[t.key] = f"{models[t.key]} {task}{extra} lr={t.lr:g} seed={t.seed} [{t.key}]"
    return out


def _first_error_line(error: str) -> str:
    """The most telling line of a Ray error text: the exception line if there is one."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line
    return lines[0] if lines else ""
