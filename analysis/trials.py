"""Every trial, one row each, with its configuration flattened into columns: for `sdssm-sweep trials`
(list, filter, sort) and `sdssm-sweep export` (trials, metric history and per-length accuracies as CSV or
Parquet, ready for pandas).

Columns of the trial table: `key`, `sweeps` (comma-separated: a trial may belong to several), `task_label`
(the task instance as the report names it, e.g. D4 for Dn with n = 4), `variant` (e.g. diagonal+B), the store's
outcome columns (status, steps, wall_time_s, solved_step, solved_wall_time_s, in_range_accuracy,
beyond_accuracy: the final evaluation, attempts, error, restore_note), `peak_beyond_accuracy` (the best
periodic evaluation), then every TrialConfig field under its own name (task, model, lr, k, p, seed, …;
task parameters as `task.<name>`, e.g. `task.n`). Accuracies are fractions in [0, 1] as stored.

Filters are strings `NAME OP VALUE` with OP one of = != >= <= > < (`lr=0.001`, `beyond_accuracy<0.9`,
`status=solved`); a value is compared as a number when both sides are numbers, else as text.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sdssm.config import LATER_FIELD_DEFAULTS
from sdssm.sweep.store import Store

OUTCOME_COLUMNS = ("status", "steps", "wall_time_s", "solved_step", "solved_wall_time_s", "in_range_accuracy",
                   "beyond_accuracy", "peak_beyond_accuracy", "attempts", "error", "restore_note")
EXPORT_FORMATS = ("csv", "parquet")
_FILTER = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$")


class TrialQueryError(ValueError):
    """A filter or sort names a column that does not exist, or cannot be read."""


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """A stored TrialConfig dict as flat columns: task_params {"n": 30} becomes task.n = 30. A config stored
    before a field existed (LATER_FIELD_DEFAULTS: supervision, layers) gets that field's default."""
    config = {**config, **{name: value for name, value in LATER_FIELD_DEFAULTS.items() if name not in config}}
    flat = {name: value for name, value in config.items() if name != "task_params"}
    for name, value in (config.get("task_params") or {}).items():
        flat[f"task.{name}"] = value if not isinstance(value, (list, dict)) else json.dumps(value)
    return flat


def trial_table(store: Store, sweeps: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per trial of the named sweeps (all trials when None), ordered by task, model, seed."""
    frames = store.frames(sweeps, tables=("trials", "peaks"))
    trials, memberships, peaks = frames["trials"], frames["memberships"], frames["peaks"]
    if trials.empty:
        return pd.DataFrame(columns=["key", "sweeps", "task_label", "variant", *OUTCOME_COLUMNS])
    sweeps_of = memberships.groupby("key")["sweep"].agg(lambda names: ",".join(sorted(names)))
    configs = pd.DataFrame([flatten_config(json.loads(text)) for text in trials["config"]], index=trials.index)
    outcome = trials.assign(peak_beyond_accuracy=trials["key"].map(peaks.set_index("key")["peak_beyond_accuracy"]))
    if "restore_note" not in outcome:
        outcome["restore_note"] = None
    table = pd.concat([outcome[["key"]].assign(sweeps=trials["key"].map(sweeps_of)),
                       outcome[["task_label", "variant", *OUTCOME_COLUMNS]], configs], axis=1)
    return table.sort_values(["task", "model", "seed", "key"], kind="stable").reset_index(drop=True)


def _typed(text: str) -> Any:
    """'1e-3' -> 0.001, '3' -> 3, 'true' -> True, anything else stays text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else number


def _unknown_column(name: str, columns: Sequence[str]) -> TrialQueryError:
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return TrialQueryError(f"no column {name!r}{hint}; columns: {', '.join(columns)}")


def apply_filters(table: pd.DataFrame, filters: Sequence[str]) -> pd.DataFrame:
    """The rows of `table` that satisfy every filter (see the module docstring)."""
    selected = pd.Series(True, index=table.index)
    for text in filters:
        match = _FILTER.match(text)
        if match is None:
            raise TrialQueryError(f"filter {text!r} is not NAME OP VALUE with OP one of = != >= <= > < "
                                  "(e.g. lr=0.001, beyond_accuracy<0.9)")
        name, op, raw = match.groups()
        if name not in table.columns:
            raise _unknown_column(name, list(table.columns))
        selected &= _compare(table[name], op, _typed(raw))
    return table[selected].reset_index(drop=True)


def _compare(column: pd.Series, op: str, value: Any) -> pd.Series:
    numeric = pd.to_numeric(column, errors="coerce")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and numeric.notna().any():
        left: pd.Series = numeric
        if op in ("=", "!="):  # 1e-3 written in YAML and 0.001 typed here are one value
            equal = (left - value).abs() <= 1e-12 * max(1.0, abs(value))
            return equal if op == "=" else ~equal & left.notna()
    else:
        left, value = column.map(lambda item: str(item).lower() if item is not None else ""), str(value).lower()
    return {"=": left == value, "!=": left != value, ">=": left >= value, "<=": left <= value,
            ">": left > value, "<": left < value}[op].fillna(False).astype(bool)


def sort_table(table: pd.DataFrame, by: str | None, descending: bool = False) -> pd.DataFrame:
    """Rows sorted by one column (missing values last); unchanged when `by` is None."""
    if by is None:
        return table
    if by not in table.columns:
        raise _unknown_column(by, list(table.columns))
    numeric = pd.to_numeric(table[by], errors="coerce")
    key = numeric if numeric.notna().sum() == table[by].notna().sum() else table[by].astype(str)
    order = key.sort_values(ascending=not descending, na_position="last", kind="stable").index
    return table.loc[order].reset_index(drop=True)


def history_tables(store: Store, sweeps: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """'trials' (trial_table), 'metrics' (one row per trial and evaluation step) and 'lengths' (one row per
    trial and test length, final evaluation), each metric and length row carrying its trial's flattened
    configuration and status, ready for pandas group-bys."""
    trials = trial_table(store, sweeps)
    frames = store.frames(sweeps, tables=("metrics", "lengths"))
    config_columns = [c for c in trials.columns if c not in OUTCOME_COLUMNS or c == "status"]  # + labels
    context = trials[config_columns].rename(columns={"key": "trial_key"})
    tables = {"trials": trials}
    for name, sort in (("metrics", ["trial_key", "step"]), ("lengths", ["trial_key", "length"])):
        rows = frames[name].drop(columns=["id"], errors="ignore")
        tables[name] = rows.merge(context, on="trial_key", how="left").sort_values(sort).reset_index(drop=True)
    return tables


def export_tables(tables: dict[str, pd.DataFrame], out_dir: Path, fmt: str = "csv") -> list[Path]:
    """Write each table as OUT_DIR/<name>.csv or .parquet; returns the paths written. Each file is written
    to a temporary name and renamed, so an interrupted export never leaves a half-written file."""
    if fmt not in EXPORT_FORMATS:
        raise TrialQueryError(f"format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        path = out_dir / f"{name}.{fmt}"
        partial = path.with_name(f".{path.name}.partial")
        if fmt == "csv":
            table.to_csv(partial, index=False)
        else:
            _parquet_ready(table).to_parquet(partial, index=False)
        partial.replace(path)
        written.append(path)
    return written


def _parquet_ready(table: pd.DataFrame) -> pd.DataFrame:
    """Parquet needs one type per column: object columns mixing numbers and text become text."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object:
            kinds = {type(v) for v in out[column] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1 or kinds - {str, bool, int, float}:
                out[column] = out[column].map(lambda v: None if v is None else str(v))
    return out
