"""Store -> tidy pandas frames for the report.

`load(store, sweeps)` reads the store once (`Store.frames`) and returns a `ReportData`: one row per trial
with typed columns and the labels every table uses (model_label, task_label, percentages, state flags),
the final per-length accuracies, and the row/column orders. Nothing here formats text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.labels import TaskFacts, family_label, model_label, model_sort_key, task_facts, task_sort_key
from sdssm.sweep.store import DONE_STATUSES, FAILED, PENDING, RUNNING, STATUSES, Store


class ReportError(ValueError):
    """Nothing to report: the store holds no trials, or a named sweep does not exist."""


NUMERIC_COLUMNS = ("seed", "lr", "weight_decay", "k", "p", "state_size", "train_max_length",
                   "test_max_length", "attempts", "steps", "wall_time_s", "solved_step", "solved_wall_time_s",
                   "in_range_accuracy", "beyond_accuracy")
ACTIVE_STATUSES = frozenset({PENDING, RUNNING})


@dataclass
class ReportData:
    """Everything the tables and plots read.

    trials: one row per trial, ordered by task, model, seed. Besides the store's columns:
      model_label, family, task_params (dict), in_range_pct / beyond_pct (accuracy x 100),
      done (status in DONE_STATUSES), has_result (done and a beyond accuracy recorded),
      active (pending or running), failed, solved (a solved_step was recorded, or status 'solved').
    lengths: trial_key, length, accuracy of the final evaluations; unlabelled lengths (NULL) dropped.
    """

    url: str
    sweeps: list[str]
    trials: pd.DataFrame
    lengths: pd.DataFrame
    memberships: pd.DataFrame
    task_order: list[str] = field(default_factory=list)  # task labels, paper order
    model_order: list[str] = field(default_factory=list)  # model labels, row order
    facts: dict[str, TaskFacts] = field(default_factory=dict)  # by task label

    def status_counts(self) -> pd.DataFrame:
        """Trials per sweep and status (rows: sweeps, then 'all'; columns: every status, 'total')."""
        statuses = self.trials.set_index("key")["status"]
        joined = self.memberships.assign(status=self.memberships["key"].map(statuses))
        table = pd.crosstab(joined["sweep"], joined["status"]).reindex(index=self.sweeps, fill_value=0)
        table.loc["all"] = self.trials["status"].value_counts()
        table = table.reindex(columns=list(STATUSES), fill_value=0).fillna(0).astype(int)
        table["total"] = table.sum(axis=1)
        table.index.name = "sweep"
        return table


def load(store: Store, sweeps: Sequence[str] | None = None) -> ReportData:
    """Read the named sweeps (all when None or empty) from the store.

    Raises ReportError when a named sweep does not exist (naming those that do) or there are no trials.
    """
    existing = store.sweep_names()
    if sweeps:
        missing = [name for name in sweeps if name not in existing]
        if missing:
            known = ", ".join(existing) if existing else "none"
            raise ReportError(f"no sweep named {', '.join(map(repr, missing))} in {store.url} "
                              f"(sweeps there: {known})")
        names = list(dict.fromkeys(sweeps))
    else:
        names = existing
    frames = store.frames(names if sweeps else None, tables=("trials", "lengths"))
    trials = frames["trials"]
    if trials.empty:
        where = f"sweep(s) {', '.join(names)}" if sweeps else store.url
        raise ReportError(f"no trials in {where}: run a sweep first (sdssm-sweep run SPEC)")
    trials = _tidy_trials(trials)
    lengths = frames["lengths"].rename(columns={"trial_key": "key"})
    lengths = lengths.astype({"length": "int64"}).assign(
        accuracy=pd.to_numeric(lengths["accuracy"], errors="coerce"))
    lengths = lengths.dropna(subset=["accuracy"]).sort_values(["key", "length"]).reset_index(drop=True)

    firsts = trials.drop_duplicates("task_label")
    facts = {row.task_label: task_facts(row.task, row.task_params) for row in firsts.itertuples()}
    task_order = [label for _, label in sorted(
        (task_sort_key(row.task, row.task_label), row.task_label) for row in firsts.itertuples())]
    models = trials.drop_duplicates("model_label")
    model_order = [label for _, label in sorted(
        (model_sort_key(row.variant, row.readout), row.model_label) for row in models.itertuples())]
    return ReportData(url=store.url, sweeps=names, trials=trials, lengths=lengths,
                      memberships=frames["memberships"], task_order=task_order, model_order=model_order,
                      facts=facts)


def _tidy_trials(raw: pd.DataFrame) -> pd.DataFrame:
    trials = raw.copy()
    for column in NUMERIC_COLUMNS:
        trials[column] = pd.to_numeric(trials[column], errors="coerce").astype("float64")
    trials["model_label"] = [model_label(v, r) for v, r in zip(trials["variant"], trials["readout"])]
    trials["family"] = trials["variant"].map(family_label)
    trials["task_params"] = trials["config"].map(_task_params)
    trials["in_range_pct"] = trials["in_range_accuracy"] * 100.0
    trials["beyond_pct"] = trials["beyond_accuracy"] * 100.0
    trials["done"] = trials["status"].isin(DONE_STATUSES)
    trials["has_result"] = trials["done"] & trials["beyond_pct"].notna()
    trials["active"] = trials["status"].isin(ACTIVE_STATUSES)
    trials["failed"] = trials["status"] == FAILED
    trials["solved"] = trials["done"] & (trials["solved_step"].notna() | (trials["status"] == "solved"))
    trials["error_line"] = trials["error"].map(_first_line)
    sort_keys = [(task_sort_key(task, label), model_sort_key(variant, readout), seed, key)
                 for task, label, variant, readout, seed, key in zip(
                     trials["task"], trials["task_label"], trials["variant"], trials["readout"], trials["seed"],
                     trials["key"])]
    order = sorted(range(len(trials)), key=sort_keys.__getitem__)
    return trials.iloc[order].reset_index(drop=True)


def _task_params(config: Any) -> dict[str, Any]:
    try:
        data = json.loads(config) if isinstance(config, str) else dict(config or {})
    except (TypeError, ValueError):
        return {}
    params = data.get("task_params") if isinstance(data, dict) else None
    return dict(params) if isinstance(params, dict) else {}


def _first_line(error: Any, limit: int = 200) -> str:
    """The error's first line; for a Python traceback its last line (the exception), which says more."""
    if not isinstance(error, str) or not error.strip():
        return ""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[:limit - 1] + "…"
