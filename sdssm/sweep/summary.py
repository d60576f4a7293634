"""The table `sdssm-sweep validate FILE` prints: trials per task x model variant, and what varies."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.markup import escape
from rich.table import Table

from sdssm.config import ALL_MODEL_FIELDS, MODEL_FIELDS, TrialConfig
from sdssm.models.registry import family, with_depth
from sdssm.sweep.spec import SweepSpec
from sdssm.sweep.store import distinct_task_labels, task_label_of

MAX_VALUES_SHOWN = 6  # values listed per varying axis before it is shortened to a count
# Not axes of the caption: the rows and columns show them (task_params through the task's name), or they
# say where a trial runs rather than what it is.
NOT_AXES = ("task", "task_params", "model", "readout", "threads", "device")


def task_label(trial: TrialConfig) -> str:
    """The task instance as the report names it: 'D30' (Dn, n=30), an automaton's own name."""
    return task_label_of(trial)


def variant_label(trial: TrialConfig) -> str:
    """'sdssm/linear', 'diagonal/mlp', 'diagonal/linear noB' (no input term B), 'gated/linear [-1,1]',
    'diagonal/linear 2 layers': the model and readout, then, for a variant other than the family's first,
    what sets it apart, then the depth when above 1."""
    entry = family(trial.model)
    label = f"{trial.model}/{trial.readout}"
    if with_depth(entry.labels()[0][0], trial.layers) != entry.variant_of(trial):
        label += " " + " ".join(entry.describe(trial))
    return with_depth(label, trial.layers)


def varying_axes(trials: tuple[TrialConfig, ...] | list[TrialConfig]) -> dict[str, list[Any]]:
    """Each trial field (besides those in NOT_AXES) with more than one value among the trials, with its
    distinct values in order of appearance: every field of TrialConfig, so a new field (supervision, say)
    shows as soon as it varies. A model field counts only for trials whose model reads it."""
    seen: dict[str, dict[str, Any]] = {}
    for trial in trials:
        used = MODEL_FIELDS.get(trial.model, ALL_MODEL_FIELDS)
        for name, value in trial.to_dict().items():
            if name in NOT_AXES or (name in ALL_MODEL_FIELDS and name not in used):
                continue
            seen.setdefault(name, {}).setdefault(json.dumps(value, sort_keys=True, default=repr), value)
    return {name: list(values.values()) for name, values in seen.items() if len(values) > 1}


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_format(v) if not isinstance(v, (dict, list)) else '...'}"
                               for k, v in sorted(value.items())) + "}"
    return str(value)


def summary_table(spec: SweepSpec) -> Table:
    """Trial counts per task (rows) and model/readout variant (columns), with totals; the caption
    lists the varying axes and the sweep's resources and scheduling. A TPE search's trials are proposed
    while it runs: it counts the trials of its num_samples points (the most it runs), built at the lower
    ends of its ranges, so the searched fields do not show as axes (`search_table` shows them)."""
    trials = planned_trials(spec)
    labels = distinct_task_labels((t.task, t.task_params) for t in trials)  # one row per task instance
    counts: Counter[tuple[str, str]] = Counter((label, variant_label(t)) for label, t in zip(labels, trials))
    tasks = list(dict.fromkeys(labels))
    variants = list(dict.fromkeys(variant_label(t) for t in trials))

    title = f"sweep {escape(spec.name)}: {'up to ' if spec.search.method == 'tpe' else ''}{len(trials)} trial(s)"
    table = Table(title=title, show_footer=len(tasks) > 1)
    table.add_column("task", footer="total")
    for variant in variants:
        table.add_column(escape(variant), justify="right",
                         footer=str(sum(n for (_, v), n in counts.items() if v == variant)))
    table.add_column("total", justify="right", footer=str(len(trials)))
    for task in tasks:
        row = [counts.get((task, v), 0) for v in variants]
        table.add_row(escape(task), *(str(n) if n else "-" for n in row), str(sum(row)))

    lines = []
    for name, values in varying_axes(trials).items():
        shown = ", ".join(_format(v) for v in values[:MAX_VALUES_SHOWN])
        more = f", ... ({len(values)} values)" if len(values) > MAX_VALUES_SHOWN else ""
        lines.append(f"{name} x{len(values)}: {shown}{more}")
    if not lines:
        lines.append("no other axis varies")
    r = spec.resources
    lines.append(f"per trial: cpu {r.cpu:g}, gpu {r.gpu:g}; max_concurrent "
                 f"{spec.max_concurrent if spec.max_concurrent is not None else 'unlimited'}; scheduler "
                 f"{spec.scheduler}; max_failures {spec.max_failures}")
    table.caption = escape("\n".join(lines))  # values (task params) are user text
    table.caption_justify = "left"
    return table


def planned_trials(spec: SweepSpec) -> tuple[TrialConfig, ...]:
    """The spec's trials; for TPE, num_samples times the trials of one point (its ranges' lower ends)."""
    search = spec.search
    if search.method != "tpe" or search.expand is None or search.num_samples is None:
        return spec.trials
    return search.expand({d.field: d.values[0] for d in search.distributions}) * search.num_samples


def search_table(spec: SweepSpec) -> Table | None:
    """How a random or TPE sweep searches: the distributions, then the configurations random drew (the
    trials' searched values, one row each, with its seeds), or TPE's budget; None for a grid."""
    search = spec.search
    if search.method == "grid":
        return None
    seeds = ", ".join(str(s) for s in search.seeds)
    if search.method == "random":
        title = (f"search: random, {search.num_samples} draw(s) from seed {search.seed}, each on seed(s) {seeds}: "
                 f"{len(spec.trials)} trial(s)")
    else:
        title = (f"search: tpe (Optuna's TPE sampler, seed {search.seed}), {search.num_samples} point(s), each on "
                 f"seed(s) {seeds}: up to {search.num_samples * len(search.seeds)} trial(s), proposed while the "
                 "sweep runs")
    table = Table(title=escape(title), title_justify="left")
    if search.method == "tpe":
        table.add_column("field")
        table.add_column("distribution")
        for d in search.distributions:
            table.add_row(escape(d.field), escape(d.describe()))
        return table
    table.add_column("draw", justify="right")
    for d in search.distributions:
        table.add_column(escape(f"{d.field} ~ {d.describe()}"), justify="right")
    table.add_column("trials", justify="right")
    draws: dict[tuple[str, ...], int] = {}
    for trial in spec.trials:
        row = tuple(_format(getattr(trial, d.field)) for d in search.distributions)
        draws[row] = draws.get(row, 0) + 1
    for number, (row, n) in enumerate(draws.items(), start=1):
        table.add_row(str(number), *(escape(v) for v in row), str(n))
    return table
