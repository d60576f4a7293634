"""Store -> tidy pandas frames for the report.

`load(store, sweeps)` reads the store once (`Store.frames`) and returns a `ReportData`: one row per trial
with typed columns and the labels every table uses (model_label, task_label, percentages, state flags),
the final per-length accuracies, and the row/column orders. Nothing here formats text.

Which sweeps (select_sweeps): the ones named; else, with all_sweeps, every sweep in the store; else the
sweep run most recently. Several sweeps are never pooled: the tables are built per sweep
(`ReportData.only(sweep)`), and a trial that belongs to two sweeps counts in each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.labels import TaskFacts, family_label, model_label, model_sort_key, task_facts, task_sort_key
from sdssm.sweep.store import (
    ACTIVE_STATUSES, DONE_STATUSES, Store, TrialStatus, distinct_task_labels, mask_url, params_key,
)


class ReportError(ValueError):
    """Nothing to report: the store holds no trials, or a named sweep does not exist."""


NUMERIC_COLUMNS = ("seed", "lr", "weight_decay", "k", "p", "state_size", "train_max_length",
                   "test_max_length", "attempts", "steps", "wall_time_s", "solved_step", "solved_wall_time_s",
                   "in_range_accuracy", "beyond_accuracy", "peak_beyond_accuracy", "n_evals")
DEFAULT_SUPERVISION = "last"  # what a trial stored before the supervision field existed was trained with

# How the sweeps of a report were chosen (ReportData.chosen).
NAMED, LATEST, ALL = "named", "latest", "all"


@dataclass
class ReportData:
    """Everything the tables and plots read.

    trials: one row per trial (unique key), ordered by task, model, seed. Besides the store's columns:
      task_label (one task instance, see analysis.labels), supervision ('last' for trials stored before the
      field existed), model_label and family (with the supervision where the model has trials of another),
      task_params (dict), in_range_pct / beyond_pct (accuracy x 100, final evaluation), peak_pct (the
      best periodic evaluation x 100; NaN without one), done (status in DONE_STATUSES), has_result (done
      and a beyond accuracy recorded), active (pending, running or interrupted), failed, solved (a solved_step was
      recorded, or status 'solved').
    lengths: trial_key, length, accuracy of the final evaluations; unlabelled lengths (NULL) dropped.
    memberships: (sweep, key), a trial may be in several sweeps.
    """

    url: str  # the database, password hidden (mask_url): shown in reports, never connected to
    sweeps: list[str]
    trials: pd.DataFrame
    lengths: pd.DataFrame
    memberships: pd.DataFrame
    task_order: list[str] = field(default_factory=list)  # task labels, paper order
    model_order: list[str] = field(default_factory=list)  # model labels, row order
    facts: dict[str, TaskFacts] = field(default_factory=dict)  # by task label
    chosen: str = NAMED  # how the sweeps were chosen: named, latest (the default) or all

    def only(self, sweep: str) -> ReportData:
        """The same data restricted to one sweep's trials (orders keep only its models and tasks)."""
        memberships = self.memberships[self.memberships["sweep"] == sweep].reset_index(drop=True)
        keys = set(memberships["key"])
        trials = self.trials[self.trials["key"].isin(keys)].reset_index(drop=True)
        lengths = self.lengths[self.lengths["key"].isin(keys)].reset_index(drop=True)
        tasks, models = set(trials["task_label"]), set(trials["model_label"])
        task_order = [task for task in self.task_order if task in tasks]
        return ReportData(url=self.url, sweeps=[sweep], trials=trials, lengths=lengths, memberships=memberships,
                          task_order=task_order, model_order=[m for m in self.model_order if m in models],
                          facts={task: self.facts[task] for task in task_order}, chosen=self.chosen)

    def supervision_note(self) -> str:
        """'Supervision per task: ...' when some trials were not trained the paper's way and the row labels
        do not say so (each task used one supervision per model); '' otherwise."""
        unlabelled = self.trials[~self.trials["model_label"].str.contains("supervision=", regex=False)]
        per_task = unlabelled.groupby("task_label")["supervision"].agg(lambda values: "/".join(sorted(set(values))))
        if set(per_task) <= {DEFAULT_SUPERVISION}:
            return ""
        shown = [f"{task} {per_task[task]}" for task in self.task_order if task in per_task]
        return ("Supervision per task (the loss on the last output, the paper's, or on every labelled prefix): "
                + ", ".join(shown) + ".")

    def status_counts(self) -> pd.DataFrame:
        """Trials per sweep and status (rows: sweeps, then 'all'; columns: every status, 'total')."""
        statuses = self.trials.set_index("key")["status"]
        joined = self.memberships.assign(status=self.memberships["key"].map(statuses))
        table = pd.crosstab(joined["sweep"], joined["status"]).reindex(index=self.sweeps, fill_value=0)
        table.loc["all"] = self.trials["status"].value_counts()
        table = table.reindex(columns=[s.value for s in TrialStatus], fill_value=0).fillna(0).astype(int)
        table["total"] = table.sum(axis=1)
        table.index.name = "sweep"
        return table


def select_sweeps(store: Store, sweeps: Sequence[str] | None = None, all_sweeps: bool = False
                  ) -> tuple[list[str], str]:
    """(sweep names, how they were chosen): the named ones; else every sweep (all_sweeps, in the order
    they were created); else the sweep run most recently (`run` records when it last ran each sweep).

    Raises ReportError when a named sweep does not exist (naming those that do) or the store has none.
    """
    existing = store.sweep_names()
    if sweeps:
        missing = [name for name in sweeps if name not in existing]
        if missing:
            known = ", ".join(existing) if existing else "none"
            raise ReportError(f"no sweep named {', '.join(map(repr, missing))} in {mask_url(store.url)} "
                              f"(sweeps there: {known})")
        return list(dict.fromkeys(sweeps)), NAMED
    if not existing:
        raise ReportError(f"no trials in {mask_url(store.url)}: run a sweep first (sdssm-sweep run SPEC)")
    if all_sweeps:
        return existing, ALL
    return store.sweeps_by_last_run()[:1], LATEST


def load(store: Store, sweeps: Sequence[str] | None = None, *, all_sweeps: bool = False) -> ReportData:
    """Read the sweeps chosen by select_sweeps from the store.

    Raises ReportError when a named sweep does not exist (naming those that do) or there are no trials.
    """
    names, chosen = select_sweeps(store, sweeps, all_sweeps)
    frames = store.frames(names, tables=("trials", "lengths", "peaks"))
    trials = frames["trials"]
    if trials.empty:
        latest = " (the sweep run most recently; name others with --sweep, or --all-sweeps)" if chosen == LATEST else ""
        raise ReportError(f"no trials in sweep(s) {', '.join(names)}{latest}: run a sweep first (sdssm-sweep run SPEC)")
    peaks = frames["peaks"].set_index("key")
    trials = trials.assign(peak_beyond_accuracy=trials["key"].map(peaks["peak_beyond_accuracy"]),
                           n_evals=trials["key"].map(peaks["n_evals"]))
    trials = _tidy_trials(trials)
    lengths = frames["lengths"].rename(columns={"trial_key": "key"})
    lengths = lengths.astype({"length": "int64"}).assign(
        accuracy=pd.to_numeric(lengths["accuracy"], errors="coerce"))
    lengths = lengths.dropna(subset=["accuracy"]).sort_values(["key", "length"]).reset_index(drop=True)

    firsts = trials.drop_duplicates("task_label")
    recorded = store.task_facts()  # no torch: the registry is asked only for tasks not recorded
    facts = {row.task_label: task_facts(row.task, row.task_params,
                                        recorded.get((row.task, params_key(row.task_params)[1])))
             for row in firsts.itertuples()}
    task_order = [label for _, label in sorted(
        (task_sort_key(row.task, row.task_label), row.task_label) for row in firsts.itertuples())]
    models = trials.drop_duplicates("model_label")
    model_order = [label for _, label in sorted(
        (model_sort_key(row.variant, row.readout, row.supervision), row.model_label)
        for row in models.itertuples())]
    return ReportData(url=mask_url(store.url), sweeps=names, trials=trials, lengths=lengths,
                      memberships=frames["memberships"], task_order=task_order, model_order=model_order,
                      facts=facts, chosen=chosen)


def _tidy_trials(raw: pd.DataFrame) -> pd.DataFrame:
    trials = raw.copy()
    for column in NUMERIC_COLUMNS:
        trials[column] = pd.to_numeric(trials[column], errors="coerce").astype("float64")
    configs = trials["config"].map(_config)
    trials["task_params"] = configs.map(_task_params)
    # One column per task instance; the stored task_label of older databases is not trusted for that.
    trials["task_label"] = distinct_task_labels(zip(trials["task"], trials["task_params"]))
    trials["supervision"] = configs.map(lambda c: c.get("supervision") or DEFAULT_SUPERVISION)
    # A model's supervision joins its row label when the model has trials of both supervisions on one task
    # instance: then last and prefixes are two rows, each saying which it is. When each task uses one
    # supervision for the model (table1.yaml: prefixes on some columns, the paper's last on others), the
    # model stays one row and the report names each column's supervision (ReportData.supervision_of).
    per_task = trials.groupby(["variant", "task_label"])["supervision"].nunique()
    mixed = set(per_task[per_task > 1].index.get_level_values("variant"))
    shown = [v in mixed for v in trials["variant"]]
    trials["model_label"] = [model_label(v, r, s if show else None) for v, r, s, show in zip(
        trials["variant"], trials["readout"], trials["supervision"], shown)]
    trials["family"] = [family_label(v, s if show else None)
                        for v, s, show in zip(trials["variant"], trials["supervision"], shown)]
    trials["in_range_pct"] = trials["in_range_accuracy"] * 100.0
    trials["beyond_pct"] = trials["beyond_accuracy"] * 100.0
    trials["peak_pct"] = trials["peak_beyond_accuracy"] * 100.0
    trials["done"] = trials["status"].isin(DONE_STATUSES)
    trials["has_result"] = trials["done"] & trials["beyond_pct"].notna()
    trials["active"] = trials["status"].isin(ACTIVE_STATUSES)
    trials["failed"] = trials["status"] == TrialStatus.FAILED
    trials["solved"] = trials["done"] & (trials["solved_step"].notna() | (trials["status"] == TrialStatus.SOLVED))
    trials["error_line"] = trials["error"].map(_first_line)
    sort_keys = [(task_sort_key(task, label), model_sort_key(variant, readout, supervision), seed, key)
                 for task, label, variant, readout, supervision, seed, key in zip(
                     trials["task"], trials["task_label"], trials["variant"], trials["readout"],
                     trials["supervision"], trials["seed"], trials["key"])]
    order = sorted(range(len(trials)), key=sort_keys.__getitem__)
    return trials.iloc[order].reset_index(drop=True)


def _config(config: Any) -> dict[str, Any]:
    try:
        data = json.loads(config) if isinstance(config, str) else dict(config or {})
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _task_params(config: dict[str, Any]) -> dict[str, Any]:
    params = config.get("task_params")
    return dict(params) if isinstance(params, dict) else {}


def _first_line(error: Any, limit: int = 200) -> str:
    """The error's first line; for a Python traceback its last line (the exception), which says more."""
    if not isinstance(error, str) or not error.strip():
        return ""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[:limit - 1] + "…"
