"""Markdown for each section of the report, from the tidy frames of analysis/tables.py."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analysis.cells import EMPTY, OK, PARTIAL_MARK, pct
from analysis.curves import CurvePlot
from analysis.heatmap import Heatmap
from analysis.labels import LEGEND
from analysis.load import ALL, LATEST, ReportData
from sdssm.sweep.store import ACTIVE_STATUSES

AGGREGATION_NOTE = (
    "Accuracy is the mean over test lengths beyond the training range, in %, of the trial's **final** "
    "evaluation (final_eval_samples fresh strings per length, after training ended). It is not the *peak "
    "(periodic eval)*: the best of the periodic evaluations during training (eval_samples strings per "
    "length), which the live progress panel and `status` also show; a peak can be well above the final "
    "value. "
    "A cell reads **best (mean ± std, n=seeds)**: *best* is the highest accuracy over all trials of the cell "
    "(seeds and hyperparameters); the mean and the sample standard deviation are over seeds, of each seed's "
    "best trial over the other hyperparameters (no ± with one seed). Trials count when they finished with a "
    "recorded accuracy (solved, finished, stopped, or diverged with an accuracy). "
    "Cells without a result read *running* (a trial is pending or running), *failed* (every trial failed), "
    f"*no result* (finished without an accuracy) or *{EMPTY}* (no trial); "
    f"{PARTIAL_MARK} marks a result while some trials of the cell are still pending or running.")
SWEEPS_NOTE = ("Several sweeps: every table is built per sweep (the *sweep* column); a cell never pools "
               "trials of different sweeps, and a trial that belongs to several sweeps counts in each.")


def several(data: ReportData) -> bool:
    """Whether the report covers several sweeps (its tables then carry a sweep column)."""
    return len(data.sweeps) > 1


def _sweep_column(table: pd.DataFrame, frame: pd.DataFrame, data: ReportData) -> pd.DataFrame:
    """`table` (rows aligned with `frame`) with the frame's sweep as its first column, when several."""
    if several(data) and "sweep" in frame:
        table.insert(0, "sweep", list(frame["sweep"]))
    return table


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
    how = {LATEST: " (the sweep run most recently; `--sweep NAME ...` reads others, `--all-sweeps` every one)",
           ALL: " (every sweep in the database)"}.get(data.chosen, "")
    lines = ["# SD-SSM sweep report", "",
             f"**Sweeps:** {', '.join(f'`{name}`' for name in data.sweeps)}{how}  ",
             f"**Database:** `{data.url}`", ""]
    if several(data):
        lines += [SWEEPS_NOTE, ""]
    totals = counts.loc["all"]
    summary = ", ".join(f"{totals[s]} {s}" for s in counts.columns if s != "total" and totals[s])
    lines.append(f"**Trials:** {totals['total']} ({summary})")
    active = int(sum(totals.get(status.value, 0) for status in ACTIVE_STATUSES))
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
    if several(data):  # one block of rows per sweep: its models, in row order
        grid = frame.pivot(index=["sweep", "model"], columns="task", values="cell").reindex(
            index=pd.MultiIndex.from_frame(frame[["sweep", "model"]].drop_duplicates()),
            columns=data.task_order).rename(columns=headers)
    else:
        grid = frame.pivot(index="model", columns="task", values="cell").reindex(
            index=data.model_order, columns=data.task_order).rename(columns=headers)
        grid.index.name = "model"
    kinds = ", ".join(f"{task} {data.facts[task].kind}" for task in data.task_order)
    note = data.supervision_note()
    out = ["## Table 1: length generalization", "", AGGREGATION_NOTE, "",
           md_table(grid.reset_index()), "", LEGEND + f" ({kinds})" + (f" {note}" if note else ""), "",
           "### Best cells: hyperparameters and counts", "",
           "*final %*: the best trial's final evaluation (the cell's number); *peak (periodic eval) %*: the "
           "same trial's best periodic evaluation. *trials*: trials with a result / all trials of the cell.", ""]
    rows = frame[frame["n_trials"] > 0]
    table = pd.DataFrame({
        "model": rows["model"], "task": rows["task"], "final %": rows["best_pct"].map(pct),
        "peak (periodic eval) %": rows["best_peak_pct"].map(pct),
        "lr": rows["best_lr"].map(_num), "k": rows["best_k"].map(_num), "p": rows["best_p"].map(_num),
        "weight decay": rows["best_weight_decay"].map(_num), "seed": rows["best_seed"].map(_num),
        "status": rows["best_status"].map(lambda s: s or EMPTY), "steps": rows["best_steps"].map(_num),
        "trials": _trial_counts(rows)})
    out.append(md_table(_sweep_column(table, rows, data)))
    return "\n".join(out) + "\n"


def _extra(running: int, failed: int) -> str:
    parts = [f"{n} {what}" for n, what in ((running, "pending/running"), (failed, "failed")) if n]
    return f" ({', '.join(parts)})" if parts else ""


def _trial_counts(frame: pd.DataFrame, done: str = "n_results") -> list[str]:
    """'results/trials (x pending/running, y failed)' per row; done='' gives 'trials (...)'."""
    return [(f"{d}/{t}" if done else f"{t}") + _extra(a, f) for d, t, a, f in zip(
        frame[done] if done else frame["n_trials"], frame["n_trials"], frame["n_pending_running"],
        frame["n_failed"])]


def readout_ablation(frame: pd.DataFrame, data: ReportData) -> str:
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
        "linear trials": row["linear_counts"], "MLP trials": row["mlp_counts"],
    } for _, row in frame.iterrows()])
    out.append(md_table(_sweep_column(table, frame, data)))
    return "\n".join(out) + "\n"


def sensitivity(frame: pd.DataFrame, data: ReportData, grids: Iterable[Heatmap] = ()) -> str:
    out = ["## Sensitivity (SD-SSM)", "",
           "Beyond-training accuracy (%) as **best / mean over seeds** per (k, p) and per learning rate, each "
           "aggregated over the other hyperparameters like a Table 1 cell.", ""]
    if frame.empty:
        out.append("_No SD-SSM trials._")
        return "\n".join(out) + "\n"
    keys = ["sweep", "task", "model"] if several(data) else ["task", "model"]
    for key, group in frame.groupby(keys, sort=False):
        *sweep, task, model = key
        out += [f"### {task}: {model}" + (f" (sweep {sweep[0]})" if sweep else ""), ""]
        out += [f"![k × p heatmap]({grid.path.name})\n" for grid in grids if grid.path is not None
                and (grid.task, grid.model) == (task, model) and grid.sweep in (None, *sweep)]
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
           "Accuracy (%) against test length. Solid: each model's best trial (by beyond-training accuracy), with "
           "its hyperparameters in the legend; dashed with a band: the mean and the range (min to max) over the "
           "seeds of that trial's configuration, where it ran with several. The training range is shaded, "
           "chance level dotted.", ""]
    for plot in plots:
        assert plot.path is not None
        title = plot.task + (f" (sweep {plot.sweep})" if plot.sweep else "")
        out += [f"### {title}", "", f"![{title}]({plot.path.name})", ""]
        if plot.missing:
            out += ["No curve: " + "; ".join(f"{m} ({why})" for m, why in plot.missing.items()) + ".", ""]
    return "\n".join(out)


def time_to_solve(frame: pd.DataFrame, data: ReportData) -> str:
    out = ["## Time to solve", "",
           "Solved: a **periodic evaluation** (eval_samples strings per length) reached the trial's solve "
           "threshold on the lengths beyond training (its final evaluation, the Table 1 number, can be lower). "
           "Steps and wall time (training time, evaluations excluded) at which it was first reached: the "
           "median and minimum over solved trials (unsolved trials are not in them: see *solved / done*), "
           "and per seed the seed's fastest solve, in the order of *seeds* (*not solved*: done without "
           "solving). Rows of one task sit together, so models (or supervisions) compare row by row.", ""]
    table = pd.DataFrame({
        "task": frame["task"], "model": frame["model"],
        "solved / done": [f"{s}/{d}" for s, d in zip(frame["n_solved"], frame["n_done"])],
        "trials": _trial_counts(frame, done=""),
        "median steps": frame["median_solved_step"].map(lambda v: _num(v, ".0f")),
        "min steps": frame["min_solved_step"].map(lambda v: _num(v, ".0f")),
        "median wall (s)": frame["median_solved_wall_s"].map(lambda v: _num(v, ".1f")),
        "min wall (s)": frame["min_solved_wall_s"].map(lambda v: _num(v, ".1f")),
        "seeds": frame["seeds"], "steps per seed": frame["solved_step_by_seed"],
        "wall (s) per seed": frame["solved_wall_s_by_seed"]})
    out.append(md_table(_sweep_column(table, frame, data)))
    return "\n".join(out) + "\n"


def failures(frame: pd.DataFrame, data: ReportData) -> str:
    out = ["## Failed trials", ""]
    if frame.empty:
        out.append("_No failed trials._")
    else:
        table = frame.assign(error=frame["error"].map(lambda e: e or "(no message)"))
        out.append(md_table(table if several(data) else table.drop(columns="sweep", errors="ignore")))
    return "\n".join(out) + "\n"
