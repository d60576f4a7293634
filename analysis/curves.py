"""Length-generalization curves: one plot per task, accuracy (%) against test length for each model.

Each model's solid line is its best trial (highest beyond-training accuracy among trials with a final
per-length evaluation), labelled with that trial's hyperparameters. Beside it, when the best trial's
configuration ran with several seeds, a dashed line is their mean and a band of the same colour their
range (min to max) at each length: the spread over seeds. Unlabelled lengths (NULL accuracy, e.g. even
lengths of modular arithmetic) are skipped. The training range 1..train_max_length is shaded, the y axis
runs 0..102 % (as the tables), and chance level (1 / number of classes, when known) is drawn dotted.
Files are PNG (default), SVG or PDF (`PLOT_FORMATS`) at a chosen dpi. Rendering uses matplotlib's Agg
canvas directly: headless, and no pyplot global state. A report of several sweeps draws each sweep's plots
on their own (curves_<sweep>_<task>.<format>): a line never stands for trials of another sweep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.cells import summarize
from analysis.labels import sanitize
from analysis.load import ReportData
from sdssm.config import MODEL_FIELDS


PLOT_FORMATS = ("png", "svg", "pdf")
DEFAULT_DPI = 150


@dataclass
class SeedSpread:
    """The seeds of one configuration at each length: mean, min and max accuracy (fractions)."""

    lengths: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: int


@dataclass
class CurvePlot:
    """What one task's plot shows: per model label, the lengths and accuracies drawn (from trial_keys),
    the best trial's hyperparameters, and the spread over the seeds of its configuration (2+ seeds)."""

    task: str
    path: Path | None
    lines: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    trial_keys: dict[str, str] = field(default_factory=dict)
    hyperparameters: dict[str, str] = field(default_factory=dict)  # model label -> "lr 0.001, k 8, p 1.2, seed 0"
    spreads: dict[str, SeedSpread] = field(default_factory=dict)
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
        plot.hyperparameters[model] = describe(summary.best)
        spread = seed_spread(data, cell[cell["key"].isin(with_lengths)], summary.best)
        if spread is not None:
            plot.spreads[model] = spread
    if not trials.empty and trials["train_max_length"].notna().any():
        plot.train_max_length = int(trials["train_max_length"].max())
    if not trials.empty and trials["test_max_length"].notna().any():
        plot.test_max_length = int(trials["test_max_length"].max())
    classes = data.facts[task].num_classes if task in data.facts else None
    plot.chance = 1.0 / classes if classes else None
    return plot


def describe(trial: pd.Series) -> str:
    """The hyperparameters that tell a trial apart: lr, k and p where its family reads them, weight decay
    when set, seed."""
    parts = [f"lr {trial['lr']:g}"]
    read = MODEL_FIELDS.get(str(trial.get("model")), ())  # the family's own fields (sdssm/models/registry.py)
    parts += [f"{name} {trial[name]:g}" for name in ("k", "p") if name in read and pd.notna(trial.get(name))]
    if trial.get("weight_decay"):
        parts.append(f"wd {trial['weight_decay']:g}")
    return ", ".join(parts + [f"seed {int(trial['seed'])}"])


def _without_seed(config: str) -> str:
    fields = json.loads(config)
    fields.pop("seed", None)
    return json.dumps(fields, sort_keys=True)


def seed_spread(data: ReportData, cell: pd.DataFrame, best: pd.Series) -> SeedSpread | None:
    """Mean and range over the seeds of `best`'s configuration (every field but the seed), among the cell's
    trials with a per-length evaluation; None with fewer than two seeds."""
    if "config" not in cell or cell.empty:
        return None
    same = cell[cell["config"].map(_without_seed) == _without_seed(best["config"])]
    if same["seed"].nunique() < 2:
        return None
    rows = data.lengths[data.lengths["key"].isin(set(same["key"]))]
    table = rows.pivot_table(index="length", columns="key", values="accuracy")  # NaN where unlabelled
    return SeedSpread(lengths=table.index.to_numpy(dtype=np.int64), mean=table.mean(axis=1).to_numpy(),
                      low=table.min(axis=1).to_numpy(), high=table.max(axis=1).to_numpy(),
                      n_seeds=int(same["seed"].nunique()))


def figure(plot: CurvePlot, dpi: int = DEFAULT_DPI) -> Figure:
    """The matplotlib Figure of a CurvePlot. Per model: the best trial's Line2D (gid 'best:<model>', label
    '<model>: best, <hyperparameters>'), and with 2+ seeds a dashed mean (gid 'mean:<model>') over a band."""
    fig = Figure(figsize=(10.0, 4.5), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    longest = max([int(x.max()) for x, _ in plot.lines.values() if len(x)] + [plot.test_max_length or 1])
    if plot.train_max_length:
        ax.axvspan(1, plot.train_max_length, color="0.85", zorder=0,
                   label=f"training lengths 1–{plot.train_max_length}")
    if plot.chance is not None:
        ax.axhline(100 * plot.chance, color="0.4", linestyle=":", linewidth=1.0,
                   label=f"chance ({100 * plot.chance:.3g} %)")
    for model, (lengths, accuracies) in plot.lines.items():
        (best,) = ax.plot(lengths, 100 * accuracies, linewidth=1.2, gid=f"best:{model}",
                          label=f"{model}: best, {plot.hyperparameters.get(model, '')}".rstrip(", "))
        spread = plot.spreads.get(model)
        if spread is not None:
            ax.fill_between(spread.lengths, 100 * spread.low, 100 * spread.high, color=best.get_color(),
                            alpha=0.15, linewidth=0)
            ax.plot(spread.lengths, 100 * spread.mean, linewidth=1.0, linestyle="--", color=best.get_color(),
                    gid=f"mean:{model}", label=f"{model}: mean of {spread.n_seeds} seeds (band: min–max)")
    for model, why in plot.missing.items():  # listed in the legend, so a missing model is visibly missing
        ax.plot([], [], linestyle="none", label=f"{model}: {why}")
    ax.set_xlim(1, max(longest, 2))
    ax.set_ylim(0.0, 102.0)
    ax.set_xlabel("sequence length")
    ax.set_ylabel("accuracy, % (final evaluation)")
    sweep = f" (sweep {plot.sweep})" if plot.sweep else ""
    ax.set_title(f"{plot.task}{sweep}: length generalization per model")
    ax.grid(True, alpha=0.3)
    if not plot.lines:
        ax.text(0.5, 0.5, "no finished trial yet", ha="center", va="center", transform=ax.transAxes)
    # Below the axes, two columns across the full width: long labels (the hyperparameters) stay whole.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize="small", frameon=False)
    entries = len(ax.get_legend_handles_labels()[0])
    fig.set_size_inches(11.0, 4.5 + 0.2 * ((entries + 1) // 2))
    return fig


def plot_file_name(task: str, sweep: str | None = None, plot_format: str = "png") -> str:
    return f"curves_{sanitize(sweep) + '_' if sweep else ''}{sanitize(task)}.{plot_format}"


def write_curves(data: ReportData, out_dir: Path, plot_format: str = "png", dpi: int = DEFAULT_DPI
                 ) -> list[CurvePlot]:
    """Write one plot per task (per sweep and task when data holds several sweeps) into out_dir, as
    `plot_format` (one of PLOT_FORMATS) at `dpi`; returns what each plot shows (path set)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    several = len(data.sweeps) > 1
    parts = [(sweep, data.only(sweep)) for sweep in data.sweeps] if several else [(None, data)]
    plots, used = [], set()
    for sweep, part in parts:
        for task in part.task_order:
            plot = curve_data(part, task)
            plot.sweep = sweep
            plots.append(_write(plot, out_dir, used, plot_format, dpi))
    return plots


def _write(plot: CurvePlot, out_dir: Path, used: set[str], plot_format: str, dpi: int) -> CurvePlot:
    name = plot_file_name(plot.task, plot.sweep, plot_format)
    stem, n = name[:-len(plot_format) - 1], 2
    while name in used:  # two labels that sanitise alike
        name, n = f"{stem}_{n}.{plot_format}", n + 1
    used.add(name)
    plot.path = out_dir / name
    figure(plot, dpi).savefig(plot.path, dpi=dpi, bbox_inches="tight")  # the legend below included
    return plot
