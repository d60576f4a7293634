"""k × p sensitivity heatmaps: SD-SSM's best beyond-training accuracy (%) over its dictionary size k and
Lp norm p, one plot per task and SD-SSM model (per sweep when a report holds several).

The cells are the sensitivity table's k×p rows (tables.sensitivity: each (k, p) aggregated over the other
hyperparameters and seeds like a Table 1 cell), coloured by the best accuracy and annotated with it; a
(k, p) pair without a result is left blank. A plot is drawn only where the grid has two values of k or of
p: one point is a table cell, not a heatmap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.labels import sanitize


@dataclass
class Heatmap:
    """One task × model grid: best accuracy (%) at [i, j] = (ks[i], ps[j]); NaN where no result."""

    task: str
    model: str
    sweep: str | None
    ks: list[float]
    ps: list[float]
    best_pct: np.ndarray
    path: Path | None = None


def heatmaps(sensitivity: pd.DataFrame) -> list[Heatmap]:
    """The grids of the sensitivity table that span two or more values of k or of p."""
    grid = sensitivity[sensitivity["axis"] == "k×p"]
    keys = [k for k in ("sweep", "task", "model") if k in grid.columns]
    out = []
    for key, group in grid.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        named = dict(zip(keys, key))
        ks, ps = sorted(group["k"].dropna().unique()), sorted(group["p"].dropna().unique())
        if len(ks) < 2 and len(ps) < 2:
            continue
        values = np.full((len(ks), len(ps)), np.nan)
        for _, row in group.iterrows():
            if not (pd.isna(row["k"]) or pd.isna(row["p"]) or pd.isna(row["best_pct"])):
                values[ks.index(row["k"]), ps.index(row["p"])] = float(row["best_pct"])
        out.append(Heatmap(task=str(named["task"]), model=str(named["model"]),
                           sweep=str(named["sweep"]) if "sweep" in named and grid["sweep"].nunique() > 1 else None,
                           ks=[float(k) for k in ks], ps=[float(p) for p in ps], best_pct=values))
    return out


def figure(heatmap: Heatmap, dpi: int) -> Figure:
    fig = Figure(figsize=(1.2 + 0.9 * len(heatmap.ps), 1.2 + 0.6 * len(heatmap.ks)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(heatmap.best_pct, cmap="viridis", vmin=0.0, vmax=100.0, aspect="auto")
    ax.set_xticks(range(len(heatmap.ps)), [f"{p:g}" for p in heatmap.ps])
    ax.set_yticks(range(len(heatmap.ks)), [f"{int(k)}" for k in heatmap.ks])
    ax.set_xlabel("p (Lp norm)")
    ax.set_ylabel("k (dictionary size)")
    for (i, j), value in np.ndenumerate(heatmap.best_pct):
        if not math.isnan(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize="small",
                    color="black" if value > 60 else "white")
    sweep = f" (sweep {heatmap.sweep})" if heatmap.sweep else ""
    ax.set_title(f"{heatmap.task}: {heatmap.model}{sweep}\nbest beyond-training accuracy, %", fontsize="small")
    fig.colorbar(image, ax=ax, fraction=0.08)
    fig.tight_layout()
    return fig


def write_heatmaps(sensitivity: pd.DataFrame, out_dir: Path, plot_format: str, dpi: int) -> list[Heatmap]:
    """Draw every heatmap of `sensitivity` into out_dir as heatmap_[<sweep>_]<task>_<model>.<format>."""
    out = []
    used: set[str] = set()
    for heatmap in heatmaps(sensitivity):
        stem = "_".join(sanitize(part) for part in (heatmap.sweep, heatmap.task, heatmap.model) if part)
        name, n = f"heatmap_{stem}.{plot_format}", 2
        while name in used:
            name, n = f"heatmap_{stem}_{n}.{plot_format}", n + 1
        used.add(name)
        heatmap.path = out_dir / name
        figure(heatmap, dpi).savefig(heatmap.path, dpi=dpi)
        out.append(heatmap)
    return out
