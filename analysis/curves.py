"""Length-generalization curves: one PNG per task, accuracy against test length for each model.

Each model's line is its best trial (highest beyond-training accuracy among trials with a final
per-length evaluation); unlabelled lengths (NULL accuracy, e.g. even lengths of modular arithmetic) are
skipped. The training range 1..train_max_length is shaded, the y axis runs 0..1.02, and chance level
(1 / number of classes, when known) is drawn dotted. Rendering uses matplotlib's Agg canvas directly:
headless, and no pyplot global state. A report of several sweeps draws each sweep's plots on their own
(curves_<sweep>_<task>.png): a line never stands for trials of another sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.cells import summarize
from analysis.labels import sanitize
from analysis.load import ReportData


@dataclass
class CurvePlot:
    """What one task's plot shows: per model label, the lengths and accuracies drawn (from trial_keys)."""

    task: str
    path: Path | None
    lines: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    trial_keys: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # model label -> why it has no line
    train_max_length: int | None = None
    test_max_length: int | None = None
    chance: float | None = None
    sweep: str | None = None  # set when the report covers several sweeps: whose trials these lines are


def curve_data(data: ReportData, task: str) -> CurvePlot:
    """The lines of one task's plot, read from the store's final per-length accuracies."""
    trials = data.trials[data.trials["task_label"] == task]
    with_lengths = set(data.lengths["key"])
    plot = CurvePlot(task=task, path=None)
    for model in data.model_order:
        cell = trials[trials["model_label"] == model]
        if cell.empty:
            continue
        summary = summarize(cell[cell["key"].isin(with_lengths)], "beyond_pct")
        if summary.best is None:
            state = summarize(cell, "beyond_pct").state
            plot.missing[model] = "no per-length evaluation recorded" if state == "ok" else state
            continue
        key = str(summary.best["key"])
        rows = data.lengths[data.lengths["key"] == key]
        plot.lines[model] = (rows["length"].to_numpy(dtype=np.int64), rows["accuracy"].to_numpy(dtype=float))
        plot.trial_keys[model] = key
    if not trials.empty and trials["train_max_length"].notna().any():
        plot.train_max_length = int(trials["train_max_length"].max())
    if not trials.empty and trials["test_max_length"].notna().any():
        plot.test_max_length = int(trials["test_max_length"].max())
    classes = data.facts[task].num_classes if task in data.facts else None
    plot.chance = 1.0 / classes if classes else None
    return plot


def figure(plot: CurvePlot) -> Figure:
    """The matplotlib Figure of a CurvePlot: one Line2D per model, labelled with the model label."""
    fig = Figure(figsize=(10.0, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    longest = max([int(x.max()) for x, _ in plot.lines.values() if len(x)] + [plot.test_max_length or 1])
    if plot.train_max_length:
        ax.axvspan(1, plot.train_max_length, color="0.85", zorder=0,
                   label=f"training lengths 1–{plot.train_max_length}")
    if plot.chance is not None:
        ax.axhline(plot.chance, color="0.4", linestyle=":", linewidth=1.0, label=f"chance ({plot.chance:.3g})")
    for model, (lengths, accuracies) in plot.lines.items():
        ax.plot(lengths, accuracies, linewidth=1.2, label=model)
    for model, why in plot.missing.items():  # listed in the legend, so a missing model is visibly missing
        ax.plot([], [], linestyle="none", label=f"{model}: {why}")
    ax.set_xlim(1, max(longest, 2))
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("sequence length")
    ax.set_ylabel("accuracy (final evaluation)")
    sweep = f" (sweep {plot.sweep})" if plot.sweep else ""
    ax.set_title(f"{plot.task}{sweep}: length generalization, best trial per model")
    ax.grid(True, alpha=0.3)
    if not plot.lines:
        ax.text(0.5, 0.5, "no finished trial yet", ha="center", va="center", transform=ax.transAxes)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    fig.subplots_adjust(left=0.07, right=0.72, bottom=0.12, top=0.91)  # fixed: tight_layout draws twice
    return fig


def plot_file_name(task: str, sweep: str | None = None) -> str:
    return f"curves_{sanitize(sweep) + '_' if sweep else ''}{sanitize(task)}.png"


def write_curves(data: ReportData, out_dir: Path) -> list[CurvePlot]:
    """Write one PNG per task (per sweep and task when data holds several sweeps) into out_dir; returns
    what each plot shows (path set)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    several = len(data.sweeps) > 1
    parts = [(sweep, data.only(sweep)) for sweep in data.sweeps] if several else [(None, data)]
    plots, used = [], set()
    for sweep, part in parts:
        for task in part.task_order:
            plot = curve_data(part, task)
            plot.sweep = sweep
            plots.append(_write(plot, out_dir, used))
    return plots


def _write(plot: CurvePlot, out_dir: Path, used: set[str]) -> CurvePlot:
    name = plot_file_name(plot.task, plot.sweep)
    stem, n = name[:-4], 2
    while name in used:  # two labels that sanitise alike
        name, n = f"{stem}_{n}.png", n + 1
    used.add(name)
    plot.path = out_dir / name
    figure(plot).savefig(plot.path, dpi=100)
    return plot
