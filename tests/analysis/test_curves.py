"""The plots are written, are real images with content, and plot exactly the store's per-length data (in %),
with the spread over seeds and the hyperparameters in the legend; SVG and PDF too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from analysis.curves import figure, write_curves
from analysis.load import load
from analysis.report import Report
from sdssm.sweep.store import Store
from tests.analysis import expected as E
from tests.analysis.synthetic import MOD, P, cfg

# task -> model -> the trial whose curve is drawn (the cell's best trial with a per-length evaluation)
DRAWN = {
    E.PARITY: {E.SD: cfg(P, seed=0, lr=1e-4).key, E.SD_MLP: cfg(P, readout="mlp", seed=1).key,
               E.DIAG: cfg(P, "diagonal", seed=0, lr=1e-3).key},
    E.MODA: {E.SD: cfg(MOD, seed=0).key, E.LSTM: cfg(MOD, "lstm", seed=0).key},
    E.DN: {E.SD: cfg("Dn", seed=0, task_params={"n": 4}).key},
}


@pytest.mark.parametrize("fmt", ["markdown", "csv", "json"])
def test_one_png_per_task(reports: dict[str, Report], fmt: str) -> None:
    pngs = [path for path in reports[fmt].files if path.suffix == ".png" and path.name.startswith("curves_")]
    assert sorted(p.name for p in pngs) == sorted(["curves_parity_check.png", "curves_modular_arithmetic.png",
                                                   "curves_D4.png"])
    for path in pngs:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
        image = imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 600
        pixels = (image[..., :3] * 255).astype(np.int64)
        colours = np.unique(pixels[..., 0] * 65536 + pixels[..., 1] * 256 + pixels[..., 2])
        assert len(colours) > 20  # lines, shading, text: not a blank canvas


def test_plotted_data_is_the_store_data(reports: dict[str, Report], store: Store) -> None:
    lengths = store.frames(["main"])["lengths"]
    plots = {plot.task: plot for plot in reports["markdown"].plots}
    assert list(plots) == E.TASKS
    for task, drawn in DRAWN.items():
        plot = plots[task]
        assert plot.trial_keys == drawn
        assert plot.train_max_length == 40 and plot.test_max_length == 500
        lines = {line.get_gid(): line for line in figure(plot).axes[0].get_lines()}
        for model, key in drawn.items():
            rows = lengths[(lengths["trial_key"] == key) & lengths["accuracy"].notna()].sort_values("length")
            best = lines[f"best:{model}"]
            x, y = np.asarray(best.get_xdata()), np.asarray(best.get_ydata())
            np.testing.assert_array_equal(x, rows["length"].to_numpy())
            np.testing.assert_allclose(y, 100 * rows["accuracy"].to_numpy())  # in %, as the tables
            assert best.get_label() == f"{model}: best, {plot.hyperparameters[model]}"
            np.testing.assert_array_equal(plot.lines[model][0], x)
    # unlabelled (NULL) even lengths of modular arithmetic are skipped, not drawn as zeros
    x = plots[E.MODA].lines[E.SD][0]
    assert len(x) == 250 and (x % 2 == 1).all()
    # the best SD-SSM MLP parity trial: 100% on lengths 1..40, 65% beyond
    x, y = plots[E.PARITY].lines[E.SD_MLP]
    assert np.allclose(y[x <= 40], 1.0) and np.allclose(y[x > 40], 0.65)
    assert plots[E.DN].missing == {E.DIAG: "failed", E.LSTM: "running"}
    legend = [text.get_text() for text in figure(plots[E.DN]).axes[0].get_legend().get_texts()]
    assert "LSTM: running" in legend and "Diagonal+B (linear): failed" in legend  # visibly missing
    assert plots[E.MODA].missing == {E.SD_MLP: "no result"}


def test_figure_axes(reports: dict[str, Report]) -> None:
    plot = next(p for p in reports["markdown"].plots if p.task == E.PARITY)
    ax = figure(plot).axes[0]
    assert ax.get_ylim() == (0.0, 102.0)
    assert ax.get_xlim() == (1.0, 500.0)
    span = ax.patches[0]  # the shaded training range
    assert np.isclose(span.get_x(), 1) and np.isclose(span.get_x() + span.get_width(), 40)
    chance = [line for line in ax.get_lines() if line.get_label().startswith("chance")]
    assert len(chance) == 1 and np.allclose(chance[0].get_ydata(), 50.0)  # parity: 2 classes, in %
    assert plot.hyperparameters[E.SD] == "lr 0.0001, k 8, p 1.2, seed 0"


def test_spread_over_the_seeds_of_the_best_configuration(reports: dict[str, Report]) -> None:
    """Parity, SD-SSM (linear): the best trial is lr 1e-4, k 8, p 1.2, seed 0 (100 % beyond); that
    configuration ran with seeds 0, 1, 2 at 100, 95 and 90 % beyond (in-range 100, 100, 98): the dashed mean
    and the band follow exactly those three trials, and a configuration with one seed has no band."""
    plot = next(p for p in reports["markdown"].plots if p.task == E.PARITY)
    spread = plot.spreads[E.SD]
    assert spread.n_seeds == 3
    beyond = spread.lengths > 40
    np.testing.assert_allclose(spread.mean[beyond], (1.0 + 0.95 + 0.90) / 3)
    np.testing.assert_allclose(spread.low[beyond], 0.90)
    np.testing.assert_allclose(spread.high[beyond], 1.0)
    np.testing.assert_allclose(spread.low[~beyond], 0.98)
    lines = {line.get_gid(): line for line in figure(plot).axes[0].get_lines()}
    mean = lines[f"mean:{E.SD}"]
    assert mean.get_linestyle() == "--" and mean.get_label() == f"{E.SD}: mean of 3 seeds (band: min–max)"
    np.testing.assert_allclose(np.asarray(mean.get_ydata())[beyond], 100 * (1.0 + 0.95 + 0.90) / 3)
    assert E.DIAG not in plot.spreads  # one seed with a result: nothing to spread


@pytest.mark.parametrize("plot_format, magic", [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_other_formats(db_url: str, tmp_path: Path, plot_format: str, magic: bytes) -> None:
    data = load(Store(db_url, create=False), ["main"])
    plots = write_curves(data, tmp_path, plot_format, dpi=72)
    assert {p.path.suffix for p in plots} == {f".{plot_format}"}
    assert all(p.path.read_bytes().startswith(magic) for p in plots)


def test_report_cli_writes_the_plot_format_asked_for(db_url: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from sdssm.cli import main

    assert main(["report", "--db", db_url, "--sweep", "main", "--out", str(tmp_path), "--plot-format", "svg",
                 "--dpi", "72"]) == 0
    assert sorted(p.name for p in tmp_path.glob("curves_*")) == ["curves_D4.svg", "curves_modular_arithmetic.svg",
                                                                 "curves_parity_check.svg"]
    assert "![D4](curves_D4.svg)" in (tmp_path / "report.md").read_text()
    assert main(["report", "--db", db_url, "--sweep", "main", "--out", str(tmp_path), "--dpi", "5000"]) == 2
    assert "dpi must lie in 10..1200, got 5000" in capsys.readouterr().err


def test_k_by_p_heatmap(reports: dict[str, Report]) -> None:
    """Parity, SD-SSM (linear) ran k 8 with p 1.2 and k 6 with p 1.3: a 2 x 2 grid whose best cells are the
    sensitivity table's (100 % at both points), blank where no trial ran; linked from the report."""
    from analysis.heatmap import heatmaps

    grids = {(g.task, g.model): g for g in heatmaps(reports["markdown"].tables["sensitivity"])}
    grid = grids[(E.PARITY, E.SD)]
    assert grid.ks == [6.0, 8.0] and grid.ps == [1.2, 1.3]
    np.testing.assert_allclose(grid.best_pct, [[np.nan, 100.0], [100.0, np.nan]])
    assert (E.PARITY, E.SD_MLP) not in grids  # one (k, p) point: a table cell, not a heatmap
    written = [path for path in reports["markdown"].files if path.name.startswith("heatmap_")]
    assert [path.name for path in written] == ["heatmap_parity_check_SD-SSM_linear.png"]
    assert f"![k × p heatmap]({written[0].name})" in reports["markdown"].markdown
