"""Did an unsolved trial plateau, or run out of steps? Read from its periodic evaluations.

A trial that ends below the solve threshold either stopped learning long before its budget ran out (more
steps would not help: the model cannot, or did not, find the automaton) or was still improving when it
stopped (the budget was too small to tell). The report shows which, per trial, so that a failing
baseline reads as a plateau rather than a short budget.

Rule (documented in the report): over the trial's periodic evaluations, its *last gain* is the first step
at which both the beyond-training and the in-range accuracy came within PLATEAU_TOLERANCE of their best
value. The trial plateaued when its last gain came in the first half of its steps (no gain of more than
PLATEAU_TOLERANCE over the second half); otherwise it was still improving.
"""

from __future__ import annotations

import pandas as pd

from analysis.load import ReportData

PLATEAU_TOLERANCE = 0.01  # one accuracy point
PLATEAU_FRACTION = 0.5  # the last gain came before this fraction of the trial's steps
PLATEAUED, IMPROVING, TOO_SHORT = "plateaued", "still improving", "too few evaluations"


def last_gain_step(history: pd.DataFrame) -> float:
    """First step at which both accuracies are within PLATEAU_TOLERANCE of their best (history: periodic
    rows with step, beyond_accuracy, in_range_accuracy, in step order)."""
    step = history["step"].min()
    for column in ("beyond_accuracy", "in_range_accuracy"):
        values = history[column]
        if values.notna().any():
            near_best = history.loc[values >= values.max() - PLATEAU_TOLERANCE, "step"]
            step = max(step, near_best.min())
    return float(step)


def unsolved_progress(data: ReportData, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per done, unsolved trial: its peak and final accuracy, its last gain, and the verdict."""
    columns = ["task", "model", "seed", "lr", "steps", "peak_beyond_pct", "final_beyond_pct",
               "final_in_range_pct", "last_gain_step", "verdict", "key"]
    unsolved = data.trials[data.trials["has_result"] & ~data.trials["solved"]]
    if unsolved.empty or metrics.empty:
        return pd.DataFrame(columns=columns)
    periodic = metrics.rename(columns={"trial_key": "key"}).sort_values(["key", "step"])
    rows = []
    for trial in unsolved.itertuples():
        history = periodic[periodic["key"] == trial.key]
        steps = float(trial.steps) if pd.notna(trial.steps) else float(history["step"].max())
        if len(history) < 4:
            gain, verdict = float("nan"), TOO_SHORT
        else:
            gain = last_gain_step(history)
            verdict = PLATEAUED if gain <= PLATEAU_FRACTION * steps else IMPROVING
        peak = history["beyond_accuracy"].max() * 100.0 if len(history) else float("nan")
        rows.append({"task": trial.task_label, "model": trial.model_label, "seed": trial.seed, "lr": trial.lr,
                     "steps": steps, "peak_beyond_pct": peak, "final_beyond_pct": trial.beyond_pct,
                     "final_in_range_pct": trial.in_range_pct, "last_gain_step": gain, "verdict": verdict,
                     "key": trial.key})
    return pd.DataFrame(rows, columns=columns)
