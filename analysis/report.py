"""Assemble the report: `build_report(store, sweeps, out_dir, fmt)` is what `sdssm-sweep report` calls.

Sweeps: the named ones, else every sweep with all_sweeps, else the sweep run most recently
(analysis.load.select_sweeps). Each table is computed per sweep (a `sweep` column): cells never pool sweeps.

Always writes OUT/report.md and one PNG per task (curves_<task>.png) beside it; `--format csv` adds one CSV
per table (table1, readout_ablation, sensitivity, time_to_solve, unsolved, failures, claims, status), `--format json` one
report.json holding every table as records, `--format html` one self-contained report.html (every
section, the plots embedded, a sortable table of all trials: analysis/html_report.py). The returned Report's
`text` is what the CLI prints: the markdown itself, or for csv/json/html a short index of the files written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import html_report, plateau, render, tables
from analysis.claims import report_section
from analysis.curves import DEFAULT_DPI, PLOT_FORMATS, CurvePlot, write_curves
from analysis.heatmap import Heatmap, write_heatmaps
from analysis.labels import LEGEND
from analysis.load import ReportData, ReportError, load
from analysis.trials import trial_table
from sdssm.sweep.store import ACTIVE_STATUSES, Store

__all__ = ["FORMATS", "Report", "ReportError", "build_report"]

FORMATS = ("markdown", "csv", "json", "html")
MIN_DPI, MAX_DPI = 10, 1200  # a plot of 10 x 4.5 inches at 1200 dpi is 65 megapixels: the most we draw
TABLES = ("table1", "readout_ablation", "sensitivity", "time_to_solve", "unsolved", "failures", "claims")


@dataclass
class Report:
    text: str  # what to print
    files: list[Path]  # every file written, report.md first
    markdown: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # tidy frames, as in CSV/JSON
    plots: list[CurvePlot] = field(default_factory=list)


def build_report(store: Store, sweeps: Sequence[str] | None, out_dir: Path, fmt: str = "markdown", *,
                 all_sweeps: bool = False, claims_dir: Path | None = None, plot_format: str = "png",
                 dpi: int = DEFAULT_DPI) -> Report:
    """Read the sweeps (named; else all with all_sweeps; else the latest run), write the report into
    out_dir, return it. The Claims section checks the claims files in `claims_dir` (default: claims/, see
    analysis.claims.default_claims_dir); a bad claims file raises its ClaimsError. Plots are written as
    `plot_format` (png, svg or pdf) at `dpi` (10..1200).

    Raises ReportError (a ValueError) for an unknown format, an unusable out_dir, a sweep name the store
    does not hold, or a store without trials.
    """
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r} (choose one of {', '.join(FORMATS)})")
    if plot_format not in PLOT_FORMATS:
        raise ReportError(f"unknown plot format {plot_format!r} (choose one of {', '.join(PLOT_FORMATS)})")
    if fmt == "html" and plot_format not in ("png", "svg"):
        raise ReportError(f"--format html embeds the plots in the page, and a browser shows png or svg there, "
                          f"not {plot_format}: use --plot-format png or svg")
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise ReportError(f"dpi must lie in {MIN_DPI}..{MAX_DPI}, got {dpi}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"report folder {out_dir} exists and is not a folder")
    data = load(store, sweeps, all_sweeps=all_sweeps)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create report folder {out_dir}: {exc.strerror}") from exc

    frames = compute_tables(data)
    metrics = store.frames(data.sweeps, tables=("metrics",))["metrics"]
    frames["unsolved"] = plateau.unsolved_progress(data, metrics)
    claims_text, claims = report_section(data, claims_dir)
    frames["claims"] = pd.DataFrame(
        [{"paper": r.paper, "claim": r.claim.id, "statement": r.claim.claim, "verdict": r.verdict,
          "task": t.task, "task_verdict": t.verdict, "value": t.value, "evidence": t.evidence}
         for r in claims for t in r.tasks],
        columns=["paper", "claim", "statement", "verdict", "task", "task_verdict", "value", "evidence"])
    counts = data.status_counts()
    plots = write_curves(data, out_dir, plot_format, dpi)
    grids = write_heatmaps(frames["sensitivity"], out_dir, plot_format, dpi)
    markdown = assemble_markdown(data, frames, counts, plots, claims_text, grids)
    files = [out_dir / "report.md"]
    files[0].write_text(markdown, encoding="utf-8")
    if fmt == "csv":
        for name, frame in frames.items():
            files.append(out_dir / f"{name}.csv")
            frame.to_csv(files[-1], index=False)
        files.append(out_dir / "status.csv")
        counts.to_csv(files[-1])
    elif fmt == "json":
        files.append(out_dir / "report.json")
        files[-1].write_text(json.dumps(json_document(data, frames, counts, plots), indent=1), encoding="utf-8")
    elif fmt == "html":
        images = {plot.path.name: plot.path for plot in [*plots, *grids] if plot.path is not None}
        page = html_report.page(markdown, images, trial_table(store, data.sweeps),
                                store.sweep_descriptions(data.sweeps), several=len(data.sweeps) > 1)
        files.append(out_dir / "report.html")
        files[-1].write_text(page, encoding="utf-8")
    files += [plot.path for plot in [*plots, *grids] if plot.path is not None]
    text = markdown if fmt == "markdown" else _index(data, counts, files)
    return Report(text=text, files=files, markdown=markdown, tables=frames, plots=plots)


def compute_tables(data: ReportData) -> dict[str, pd.DataFrame]:
    """Every table, each built per sweep (tables.per_sweep)."""
    builders = {"table1": tables.table1, "readout_ablation": tables.readout_ablation,
                "sensitivity": tables.sensitivity, "time_to_solve": tables.time_to_solve,
                "failures": tables.failures}
    return {name: tables.per_sweep(builder, data) for name, builder in builders.items()}


def assemble_markdown(data: ReportData, frames: dict[str, pd.DataFrame], counts: pd.DataFrame,
                      plots: list[CurvePlot], claims: str = "", grids: Sequence[Heatmap] = ()) -> str:
    sections = [render.header(data, counts), claims, render.table1(frames["table1"], data),
                render.readout_ablation(frames["readout_ablation"], data),
                render.sensitivity(frames["sensitivity"], data, grids), render.curves(plots),
                render.time_to_solve(frames["time_to_solve"], data), plateau.render(frames["unsolved"]),
                render.failures(frames["failures"], data)]
    return "\n".join(section.rstrip() + "\n" for section in sections if section)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: NaN/NA -> null, numpy scalars -> Python numbers."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


def json_document(data: ReportData, frames: dict[str, pd.DataFrame], counts: pd.DataFrame,
                  plots: list[CurvePlot]) -> dict[str, Any]:
    return {
        "sweeps": data.sweeps, "sweeps_chosen": data.chosen, "database": data.url,
        "status_counts": {str(sweep): {k: int(v) for k, v in row.items()} for sweep, row in counts.iterrows()},
        "notes": {"aggregation": render.AGGREGATION_NOTE, "tasks": LEGEND, "sweeps": render.SWEEPS_NOTE,
                  "units": "accuracies in percent (accuracy x 100), unrounded"},
        "tasks": [{"task": task, "commutative": data.facts[task].kind} for task in data.task_order],
        "models": data.model_order,
        "tables": {name: records(frame) for name, frame in frames.items()},
        "plots": [{"sweep": p.sweep, "task": p.task, "file": p.path.name if p.path else None,
                   "trial_keys": p.trial_keys,
                   "missing": p.missing, "train_max_length": p.train_max_length, "chance": p.chance}
                  for p in plots],
    }


def _index(data: ReportData, counts: pd.DataFrame, files: list[Path]) -> str:
    totals = counts.loc["all"]
    active = int(sum(totals[status.value] for status in ACTIVE_STATUSES))
    lines = [f"Report on sweep(s) {', '.join(data.sweeps)}: {totals['total']} trials"
             + (f", {active} still pending or running" if active else "")
             + (f", {totals['failed']} failed" if totals["failed"] else "") + ".",
             f"Wrote {len(files)} files to {files[0].parent}:"]
    lines += [f"  {path.name}" for path in files]
    return "\n".join(lines) + "\n"
