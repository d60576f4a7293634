"""Did an unsolved trial plateau, or run out of steps? Read from its periodic evaluations.

A trial that ends below the solve threshold either stopped learning long before its budget ran out (more
steps would not help: the model cannot, or did not, find the automaton) or was still improving when it
stopped (the budget was too small to tell). The report shows which, per trial, so that a failing
baseline reads as a plateau rather than a short budget.

Rule (documented in the report): over the trial's periodic evaluations, its *last gain* is the first step
at which both the beyond-training and the in-range accuracy came within PLATEAU_TOLERANCE of their best
value. A trial whose final accuracy beyond training is more than FALL_POINTS below its peak *fell from its
peak* (it had found a better solution and lost it: more steps were making it worse). Otherwise it
plateaued when its last gain came in the first half of its steps (no gain of more than PLATEAU_TOLERANCE
over the second half), and was still improving when the last gain came later.
"""

from __future__ import annotations

import pandas as pd

from analysis.load import ReportData

PLATEAU_TOLERANCE = 0.01  # one accuracy point
PLATEAU_FRACTION = 0.5  # the last gain came before this fraction of the trial's steps
FALL_POINTS = 5.0  # final this many points below the peak: fell from it (periodic evals use fewer strings)
PLATEAUED, IMPROVING, FELL, TOO_SHORT = "plateaued", "still improving", "fell from its peak", "too few evaluations"


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
    """One row per done, unsolved trial: its peak and final accuracy, its last gain, and the verdict;
    `sweeps` names the report's sweeps the trial belongs to."""
    columns = ["sweeps", "task", "model", "seed", "lr", "steps", "peak_beyond_pct", "final_beyond_pct",
               "final_in_range_pct", "last_gain_step", "verdict", "key"]
    unsolved = data.trials[data.trials["has_result"] & ~data.trials["solved"]]
    if unsolved.empty or metrics.empty:
        return pd.DataFrame(columns=columns)
    periodic = metrics.rename(columns={"trial_key": "key"}).sort_values(["key", "step"])
    sweeps_of = data.memberships.groupby("key")["sweep"].agg(lambda names: ", ".join(sorted(names)))
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
        if verdict != TOO_SHORT and trial.beyond_pct < peak - FALL_POINTS:
            verdict = FELL
        rows.append({"sweeps": sweeps_of.get(trial.key, ""), "task": trial.task_label, "model": trial.model_label, "seed": trial.seed, "lr": trial.lr,
                     "steps": steps, "peak_beyond_pct": peak, "final_beyond_pct": trial.beyond_pct,
                     "final_in_range_pct": trial.in_range_pct, "last_gain_step": gain, "verdict": verdict,
                     "key": trial.key})
    return pd.DataFrame(rows, columns=columns)


def render(frame: pd.DataFrame) -> str:
    """The report's section: every unsolved trial, plateaued or still improving when its budget ended."""
    from analysis.render import md_table

    out = ["## Unsolved trials: plateaued or out of steps", "",
           f"For each trial that ended without solving: its *peak* (best periodic evaluation) and *final* "
           f"accuracy beyond training, and its *last gain*: the first step from which both the beyond-training "
           f"and the in-range accuracy stayed within {PLATEAU_TOLERANCE * 100:g} point of their best. "
           f"*{PLATEAUED}*: the last gain came in the first {PLATEAU_FRACTION:.0%} of the trial's steps, so more "
           f"steps were not buying accuracy; *{IMPROVING}*: it came later, so the budget may have been too "
           f"small to tell; *{FELL}*: the final accuracy is more than {FALL_POINTS:g} points below the peak (it "
           f"had been closer to a solution earlier in training).", ""]
    if frame.empty:
        out.append("_No unsolved trials._")
        return "\n".join(out) + "\n"
    counts = frame.groupby(["task", "model", "verdict"]).size().unstack(fill_value=0)
    out += ["Per task and model (trials):", "", md_table(counts.reset_index()), ""]
    table = pd.DataFrame({
        "sweeps": frame["sweeps"], "task": frame["task"], "model": frame["model"],
        "seed": frame["seed"].map(lambda v: f"{v:.0f}"), "lr": frame["lr"].map(lambda v: f"{v:g}"),
        "steps": frame["steps"].map(lambda v: f"{v:.0f}"),
        "peak %": frame["peak_beyond_pct"].map(lambda v: f"{v:.1f}"),
        "final %": frame["final_beyond_pct"].map(lambda v: f"{v:.1f}"),
        "final in-range %": frame["final_in_range_pct"].map(lambda v: f"{v:.1f}"),
        "last gain (step)": frame["last_gain_step"].map(lambda v: "—" if v != v else f"{v:.0f}"),
        "verdict": frame["verdict"]})
    out.append(md_table(table))
    return "\n".join(out) + "\n"
