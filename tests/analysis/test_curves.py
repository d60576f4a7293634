"""The PNGs are written, are real images with content, and plot exactly the store's per-length data."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from analysis.curves import figure
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
    pngs = [path for path in reports[fmt].files if path.suffix == ".png"]
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
        lines = {line.get_label(): line for line in figure(plot).axes[0].get_lines()}
        for model, key in drawn.items():
            rows = lengths[(lengths["trial_key"] == key) & lengths["accuracy"].notna()].sort_values("length")
            x, y = np.asarray(lines[model].get_xdata()), np.asarray(lines[model].get_ydata())
            np.testing.assert_array_equal(x, rows["length"].to_numpy())
            np.testing.assert_allclose(y, rows["accuracy"].to_numpy())
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
    assert ax.get_ylim() == (0.0, 1.02)
    assert ax.get_xlim() == (1.0, 500.0)
    span = ax.patches[0]  # the shaded training range
    assert np.isclose(span.get_x(), 1) and np.isclose(span.get_x() + span.get_width(), 40)
    chance = [line for line in ax.get_lines() if line.get_label().startswith("chance")]
    assert len(chance) == 1 and np.allclose(chance[0].get_ydata(), 0.5)  # parity: 2 classes
