"""The report's tables as tidy pandas frames: numbers (percentages, counts, steps) plus a `state` column.

Each builder takes a `ReportData` and returns one long-format frame, written as-is to CSV/JSON; the
markdown renderer (analysis/render.py) pivots and formats them. No cell is ever dropped: a model × task
pair with no result has a row with state 'running', 'failed', 'no result' or '—' and NaN numbers.
Percentages are accuracy × 100, unrounded; accuracies are the final evaluation's unless a column says
peak (the best periodic evaluation, on fewer strings, never used for a cell).

A report of several sweeps builds each table per sweep (`per_sweep`: a leading `sweep` column), so a cell
never pools trials of different sweeps (different budgets, say) and a trial shared by two sweeps counts in
each.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from analysis.cells import Summary, cell_text, mean_std, summarize
from analysis.load import ReportData

SENSITIVITY_FAMILY = "sdssm"  # the variant whose k, p and lr the sensitivity tables sweep


def _counts(summary: Summary) -> dict[str, Any]:
    return {"n_seeds": summary.n_seeds, "n_results": summary.n_results, "n_trials": summary.n_trials,
            "n_pending_running": summary.n_active, "n_failed": summary.n_failed}


def _hparams(summary: Summary, prefix: str = "best_") -> dict[str, Any]:
    row = summary.best
    names = ("key", "lr", "k", "p", "weight_decay", "seed", "status", "steps")
    if row is None:
        return {prefix + name: None for name in names}
    return {prefix + name: (None if pd.isna(row[name]) else row[name]) for name in names}


def _int_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    return frame


def per_sweep(builder: Callable[[ReportData], pd.DataFrame], data: ReportData) -> pd.DataFrame:
    """`builder`'s table for each sweep of `data` on its own, concatenated with a leading `sweep` column."""
    frames = [builder(data.only(sweep)) for sweep in data.sweeps]
    for sweep, frame in zip(data.sweeps, frames):
        frame.insert(0, "sweep", sweep)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return frame


def table1(data: ReportData) -> pd.DataFrame:
    """Every model × task cell: best / mean / std of the beyond-training accuracy, the best trial's
    hyperparameters, and counts."""
    trials = data.trials
    rows = []
    for model in data.model_order:
        for task in data.task_order:
            cell = trials[(trials["model_label"] == model) & (trials["task_label"] == task)]
            summary = summarize(cell, "beyond_pct")
            rows.append({
                "model": model, "task": task, "commutative": data.facts[task].kind,
                "state": summary.state, "partial": summary.partial, "cell": cell_text(summary),
                "best_pct": summary.best_of(), "mean_pct": summary.mean(), "std_pct": summary.std(),
                "best_peak_pct": summary.best_of("peak_pct"), **_counts(summary), **_hparams(summary)})
    frame = pd.DataFrame(rows)
    return _int_columns(frame, ["best_k", "best_seed", "best_steps"])


def readout_ablation(data: ReportData) -> pd.DataFrame:
    """Per task and family with both linear and MLP trials: in-distribution and beyond-training accuracy
    of each readout and the difference MLP − linear.

    The best trial of a readout is chosen by beyond-training accuracy, and its in-distribution accuracy is
    reported beside it (same trial); the means are over seeds of each seed's best-by-beyond trial.
    """
    trials = data.trials
    rows = []
    for task in data.task_order:
        in_task = trials[trials["task_label"] == task]
        for _, family_trials in in_task.groupby(["variant", "supervision"], sort=False):  # readouts of one model
            readouts = set(family_trials["readout"])
            if not {"linear", "mlp"} <= readouts:
                continue
            row: dict[str, Any] = {"task": task, "model": family_trials["family"].iloc[0],
                                   "commutative": data.facts[task].kind}
            for readout in ("linear", "mlp"):
                summary = summarize(family_trials[family_trials["readout"] == readout], "beyond_pct")
                row |= {
                    f"{readout}_state": summary.state,
                    f"{readout}_in_range_pct": summary.best_of("in_range_pct"),
                    f"{readout}_beyond_pct": summary.best_of("beyond_pct"),
                    f"{readout}_mean_in_range_pct": summary.mean("in_range_pct"),
                    f"{readout}_mean_beyond_pct": summary.mean("beyond_pct"),
                    f"{readout}_std_beyond_pct": summary.std("beyond_pct"),
                    f"{readout}_mean_beyond": mean_std(summary, "beyond_pct"),
                    f"{readout}_n_seeds": summary.n_seeds,
                    f"{readout}_counts": summary.counts(),
                    f"{readout}_best_key": None if summary.best is None else summary.best["key"],
                }
            for what in ("in_range_pct", "beyond_pct", "mean_in_range_pct", "mean_beyond_pct"):
                row[f"delta_{what}"] = row[f"mlp_{what}"] - row[f"linear_{what}"]
            rows.append(row)
    return pd.DataFrame(rows, columns=_ABLATION_COLUMNS)


_ABLATION_COLUMNS = ["task", "model", "commutative"] + [
    f"{readout}_{what}" for readout in ("linear", "mlp")
    for what in ("state", "in_range_pct", "beyond_pct", "mean_in_range_pct", "mean_beyond_pct",
                 "std_beyond_pct", "mean_beyond", "n_seeds", "counts", "best_key")] + [
    f"delta_{what}" for what in ("in_range_pct", "beyond_pct", "mean_in_range_pct", "mean_beyond_pct")]


def sensitivity(data: ReportData) -> pd.DataFrame:
    """Per task and SD-SSM model (readout): beyond-training accuracy per (k, p) and per lr, each
    aggregated over the remaining hyperparameters and seeds like a Table 1 cell."""
    trials = data.trials[data.trials["variant"] == SENSITIVITY_FAMILY]
    rows = []
    for task in data.task_order:
        for model in data.model_order:
            group = trials[(trials["task_label"] == task) & (trials["model_label"] == model)]
            if group.empty:
                continue
            for axis, keys in (("k×p", ["k", "p"]), ("lr", ["lr"])):
                for values, cell in group.groupby(keys, sort=True, dropna=False):
                    values = values if isinstance(values, tuple) else (values,)
                    summary = summarize(cell, "beyond_pct")
                    point = dict(zip(keys, values))
                    rows.append({"task": task, "model": model, "axis": axis,
                                 "k": point.get("k"), "p": point.get("p"), "lr": point.get("lr"),
                                 "state": summary.state, "partial": summary.partial,
                                 "best_pct": summary.best_of(), "mean_pct": summary.mean(),
                                 "std_pct": summary.std(), **_counts(summary)})
    frame = pd.DataFrame(rows, columns=["task", "model", "axis", "k", "p", "lr", "state", "partial", "best_pct",
                                        "mean_pct", "std_pct", "n_seeds", "n_results", "n_trials", "n_pending_running",
                                        "n_failed"])
    return _int_columns(frame, ["k"])


def time_to_solve(data: ReportData) -> pd.DataFrame:
    """Per task × model with trials (task outermost, so the rows of one task sit together, e.g. the two
    supervisions of a model): how many solved out of those done, the median / min of the step and wall
    time at which they were solved (over solved trials), and per seed the seed's fastest solve.

    Per seed ('seeds', 'solved_step_by_seed', 'solved_wall_s_by_seed', aligned comma-separated lists): the
    solved trial of that seed with the fewest steps, or why there is none: 'not solved' (done, none
    solved), 'running' (some trial pending or running), 'failed' (every trial failed).
    """
    trials = data.trials
    rows = []
    for task in data.task_order:
        for model in data.model_order:
            cell = trials[(trials["model_label"] == model) & (trials["task_label"] == task)]
            if cell.empty:
                continue
            solved = cell[cell["solved"]]
            steps, walls = solved["solved_step"].dropna(), solved["solved_wall_time_s"].dropna()
            seeds, by_step, by_wall = _per_seed(cell)
            rows.append({
                "model": model, "task": task, "n_solved": len(solved), "n_done": int(cell["done"].sum()),
                "n_trials": len(cell), "n_pending_running": int(cell["active"].sum()),
                "n_failed": int(cell["failed"].sum()),
                "median_solved_step": _stat(steps, "median"), "min_solved_step": _stat(steps, "min"),
                "median_solved_wall_s": _stat(walls, "median"), "min_solved_wall_s": _stat(walls, "min"),
                "seeds": seeds, "solved_step_by_seed": by_step, "solved_wall_s_by_seed": by_wall})
    columns = ["model", "task", "n_solved", "n_done", "n_trials", "n_pending_running", "n_failed",
               "median_solved_step", "min_solved_step", "median_solved_wall_s", "min_solved_wall_s", "seeds",
               "solved_step_by_seed", "solved_wall_s_by_seed"]
    return pd.DataFrame(rows, columns=columns)


def _per_seed(cell: pd.DataFrame) -> tuple[str, str, str]:
    seeds, steps, walls = [], [], []
    for seed, group in cell.groupby("seed", sort=True, dropna=False):
        seeds.append("?" if pd.isna(seed) else f"{seed:g}")
        solved = group[group["solved"] & group["solved_step"].notna()]
        if not solved.empty:
            fastest = solved.loc[solved["solved_step"].idxmin()]
            steps.append(f"{fastest['solved_step']:.0f}")
            wall = fastest["solved_wall_time_s"]
            walls.append("—" if pd.isna(wall) else f"{wall:.1f}")
            continue
        why = "running" if group["active"].any() else "failed" if group["failed"].all() else "not solved"
        steps.append(why)
        walls.append(why)
    return ", ".join(seeds), ", ".join(steps), ", ".join(walls)


def _stat(values: pd.Series, how: str) -> float:
    return float(getattr(values, how)()) if len(values) else math.nan


def failures(data: ReportData) -> pd.DataFrame:
    """Failed trials with the line of their error that says what went wrong."""
    failed = data.trials[data.trials["failed"]]
    frame = pd.DataFrame({
        "task": failed["task_label"], "model": failed["model_label"], "seed": failed["seed"],
        "lr": failed["lr"], "k": failed["k"], "p": failed["p"], "weight_decay": failed["weight_decay"],
        "attempts": failed["attempts"], "key": failed["key"], "error": failed["error_line"]})
    return _int_columns(frame.reset_index(drop=True), ["seed", "k", "attempts"])

