"""Markdown for each section of the report, from the tidy frames of analysis/tables.py."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analysis.cells import EMPTY, OK, PARTIAL_MARK, pct
from analysis.curves import CurvePlot
from analysis.labels import LEGEND
from analysis.load import ReportData

AGGREGATION_NOTE = (
    "Accuracy is the mean over test lengths beyond the training range (final evaluation), in %. "
    "A cell reads **best (mean ± std, n=seeds)**: *best* is the highest accuracy over all trials of the cell "
    "(seeds and hyperparameters); the mean and the sample standard deviation are over seeds, of each seed's "
    "best trial over the other hyperparameters (no ± with one seed). Trials count when they finished with a "
    "recorded accuracy (solved, finished, stopped, or diverged with an accuracy). "
    "Cells without a result read *running* (a trial is pending or running), *failed* (every trial failed), "
    f"*no result* (finished without an accuracy) or *{EMPTY}* (no trial); "
    f"{PARTIAL_MARK} marks a result while some trials of the cell are still pending or running.")


def md_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A pipe table of strings, verbatim (no number parsing), with '|' and newlines escaped."""
    if frame.empty:
        return "_(none)_"
    clean = frame.map(lambda v: _escape(_text(v)))
    clean.columns = [_escape(str(c)) for c in clean.columns]
    if index:
        clean.index = [_escape(str(i)) for i in clean.index]
    return clean.to_markdown(index=index, disable_numparse=True)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _num(value: Any, spec: str = "g") -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    return format(value, spec)


def header(data: ReportData, counts: pd.DataFrame) -> str:
    lines = ["# SD-SSM sweep report", "",
             f"**Sweeps:** {', '.join(f'`{name}`' for name in data.sweeps)}  ",
             f"**Database:** `{data.url}`", ""]
    totals = counts.loc["all"]
    summary = ", ".join(f"{totals[s]} {s}" for s in counts.columns if s != "total" and totals[s])
    lines.append(f"**Trials:** {totals['total']} ({summary})")
    active = int(totals.get("pending", 0) + totals.get("running", 0))
    if active:
        lines += ["", f"> **Warning:** the sweep is still running: {active} of {totals['total']} trials are "
                      f"pending or running; cells marked *running* or {PARTIAL_MARK} are incomplete."]
    if totals.get("failed", 0):
        lines += ["", f"> **Warning:** {totals['failed']} trial(s) failed; see *Failed trials*."]
    if len(data.sweeps) > 1:  # per-sweep counts (a trial may belong to several sweeps)
        shown = counts.loc[:, [c for c in counts.columns if c == "total" or counts[c].any()]]
        lines += ["", md_table(shown.astype(str).rename_axis("sweep").reset_index())]
    return "\n".join(lines) + "\n"


def table1(frame: pd.DataFrame, data: ReportData) -> str:
    headers = {task: task + data.facts[task].mark for task in data.task_order}
    grid = frame.pivot(index="model", columns="task", values="cell").reindex(
        index=data.model_order, columns=data.task_order).rename(columns=headers)
    grid.index.name = "model"
    kinds = ", ".join(f"{task} {data.facts[task].kind}" for task in data.task_order)
    out = ["## Table 1: length generalization", "", AGGREGATION_NOTE, "",
           md_table(grid.reset_index()), "", LEGEND + f" ({kinds})", "",
           "### Best cells: hyperparameters and counts", "",
           "*trials*: trials with a result / all trials of the cell.", ""]
    rows = frame[frame["n_trials"] > 0]
    table = pd.DataFrame({
        "model": rows["model"], "task": rows["task"], "best %": rows["best_pct"].map(pct),
        "lr": rows["best_lr"].map(_num), "k": rows["best_k"].map(_num), "p": rows["best_p"].map(_num),
        "weight decay": rows["best_weight_decay"].map(_num), "seed": rows["best_seed"].map(_num),
        "status": rows["best_status"].map(lambda s: s or EMPTY), "steps": rows["best_steps"].map(_num),
        "trials": _trial_counts(rows)})
    out.append(md_table(table))
    return "\n".join(out) + "\n"


def _extra(running: int, failed: int) -> str:
    parts = [f"{n} {what}" for n, what in ((running, "pending/running"), (failed, "failed")) if n]
    return f" ({', '.join(parts)})" if parts else ""


def _trial_counts(frame: pd.DataFrame, done: str = "n_results") -> list[str]:
    """'results/trials (x pending/running, y failed)' per row; done='' gives 'trials (...)'."""
    return [(f"{d}/{t}" if done else f"{t}") + _extra(a, f) for d, t, a, f in zip(
        frame[done] if done else frame["n_trials"], frame["n_trials"], frame["n_pending_running"],
        frame["n_failed"])]


def readout_ablation(frame: pd.DataFrame) -> str:
    out = ["## Readout ablation: linear vs MLP", "",
           "Per task and model family with both readouts. *In-dist.* is the mean accuracy over the training "
           "lengths, *beyond* over the longer test lengths (%). Each readout's best trial is chosen by its "
           "beyond-training accuracy; its in-distribution accuracy is that same trial's. *Mean beyond* is over "
           "seeds (each seed's best trial). Δ = MLP − linear: a nonlinear readout that fits the training "
           "lengths and fails beyond them shows Δ in-dist. ≈ 0 and a negative Δ beyond.", ""]
    if frame.empty:
        out.append("_No task has both linear- and MLP-readout trials of the same model family._")
        return "\n".join(out) + "\n"

    def value(row: pd.Series, readout: str, what: str) -> str:
        state = row[f"{readout}_state"]
        return pct(row[f"{readout}_{what}"]) if state == OK else state

    table = pd.DataFrame([{
        "task": row["task"], "model": row["model"],
        "linear in-dist.": value(row, "linear", "in_range_pct"), "linear beyond": value(row, "linear", "beyond_pct"),
        "MLP in-dist.": value(row, "mlp", "in_range_pct"), "MLP beyond": value(row, "mlp", "beyond_pct"),
        "Δ in-dist.": pct(row["delta_in_range_pct"], signed=True),
        "Δ beyond": pct(row["delta_beyond_pct"], signed=True),
        "linear mean beyond": row["linear_mean_beyond"], "MLP mean beyond": row["mlp_mean_beyond"],
        "Δ mean beyond": pct(row["delta_mean_beyond_pct"], signed=True),
        "trials linear / MLP": f"{row['linear_counts']} / {row['mlp_counts']}",
    } for _, row in frame.iterrows()])
    out.append(md_table(table))
    return "\n".join(out) + "\n"


def sensitivity(frame: pd.DataFrame) -> str:
    out = ["## Sensitivity (SD-SSM)", "",
           "Beyond-training accuracy (%) as **best / mean over seeds** per (k, p) and per learning rate, each "
           "aggregated over the other hyperparameters like a Table 1 cell.", ""]
    if frame.empty:
        out.append("_No SD-SSM trials._")
        return "\n".join(out) + "\n"
    for (task, model), group in frame.groupby(["task", "model"], sort=False):
        out += [f"### {task}: {model}", ""]
        grid = group[group["axis"] == "k×p"].copy()
        grid["text"] = [_best_mean(row) for _, row in grid.iterrows()]
        pivot = grid.pivot(index="k", columns="p", values="text").fillna(EMPTY)
        pivot.index = [f"k={_num(k)}" for k in pivot.index]
        pivot.columns = [f"p={_num(p)}" for p in pivot.columns]
        out += [md_table(pivot.rename_axis("k \\ p").reset_index()), ""]
        by_lr = group[group["axis"] == "lr"]
        table = pd.DataFrame({"lr": by_lr["lr"].map(_num),
                              "best / mean": [_best_mean(r) for _, r in by_lr.iterrows()],
                              "std": by_lr["std_pct"].map(pct), "seeds": by_lr["n_seeds"].map(str),
                              "trials": _trial_counts(by_lr)})
        out += [md_table(table), ""]
    return "\n".join(out)


def _best_mean(row: pd.Series) -> str:
    if row["state"] != OK:
        return row["state"]
    return f"{pct(row['best_pct'])} / {pct(row['mean_pct'])}" + (PARTIAL_MARK if row["partial"] else "")


def curves(plots: Iterable[CurvePlot]) -> str:
    out = ["## Length-generalization curves", "",
           "Accuracy against test length for each model's best trial (by beyond-training accuracy); the training "
           "range is shaded, chance level dotted.", ""]
    for plot in plots:
        assert plot.path is not None
        out += [f"### {plot.task}", "", f"![{plot.task}]({plot.path.name})", ""]
        if plot.missing:
            out += ["No curve: " + "; ".join(f"{m} ({why})" for m, why in plot.missing.items()) + ".", ""]
    return "\n".join(out)


def time_to_solve(frame: pd.DataFrame) -> str:
    out = ["## Time to solve", "",
           "Solved: the beyond-training accuracy reached the trial's solve threshold. Steps and wall time at "
           "which it was first reached, median and minimum over solved trials.", ""]
    table = pd.DataFrame({
        "model": frame["model"], "task": frame["task"],
        "solved / done": [f"{s}/{d}" for s, d in zip(frame["n_solved"], frame["n_done"])],
        "trials": _trial_counts(frame, done=""),
        "median steps": frame["median_solved_step"].map(lambda v: _num(v, ".0f")),
        "min steps": frame["min_solved_step"].map(lambda v: _num(v, ".0f")),
        "median wall (s)": frame["median_solved_wall_s"].map(lambda v: _num(v, ".1f")),
        "min wall (s)": frame["min_solved_wall_s"].map(lambda v: _num(v, ".1f"))})
    out.append(md_table(table))
    return "\n".join(out) + "\n"


def failures(frame: pd.DataFrame) -> str:
    out = ["## Failed trials", ""]
    if frame.empty:
        out.append("_No failed trials._")
    else:
        out.append(md_table(frame.assign(error=frame["error"].map(lambda e: e or "(no message)"))))
    return "\n".join(out) + "\n"
