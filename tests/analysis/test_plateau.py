"""Plateaued or out of steps: read from an unsolved trial's periodic evaluations, through the store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.load import load
from analysis.plateau import FELL, IMPROVING, PLATEAUED, TOO_SHORT, last_gain_step, unsolved_progress
from sdssm.config import TrialConfig
from sdssm.sweep.store import Store, TrialStatus


def history(beyond: list[float], in_range: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"step": [500 * (i + 1) for i in range(len(beyond))], "beyond_accuracy": beyond,
                         "in_range_accuracy": in_range})


def test_last_gain_is_where_both_accuracies_reach_their_best() -> None:
    flat = history([0.2, 0.5, 0.6, 0.6, 0.605, 0.6, 0.6, 0.6], [0.5, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert last_gain_step(flat) == 1500  # within one point of both bests from step 1500 on
    rising_in_range = history([0.3] * 8, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85])
    assert last_gain_step(rising_in_range) == 4000


def test_unsolved_trials_are_told_apart(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    configs = {name: TrialConfig(task="D4", model="diagonal", seed=seed, max_steps=5000)
               for seed, name in enumerate(("flat", "rising", "short", "solved", "fell"))}
    curves = {"flat": [0.3, 0.38, 0.39, 0.39, 0.38, 0.39, 0.39, 0.385, 0.39, 0.39],
              "rising": [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75],
              "short": [0.3, 0.4], "solved": [0.5, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
              "fell": [0.5, 0.95, 0.99, 0.9, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7]}
    store.register_sweep("s", list(configs.values()))
    for name, config in configs.items():
        store.mark_running(config.key, node="n")
        rows = [{"step": 500 * (i + 1), "loss": 1.0, "beyond_accuracy": value, "in_range_accuracy": 1.0,
                 "wall_time_s": float(i)} for i, value in enumerate(curves[name])]
        store.record_metrics(config.key, rows)
        summary = {"steps": rows[-1]["step"], "wall_time_s": 10.0, "beyond_accuracy": curves[name][-1],
                   "in_range_accuracy": 1.0}
        if name == "solved":
            summary |= {"solved_step": 1500, "solved_wall_time_s": 3.0}
        store.record_final(config.key, status=TrialStatus.SOLVED if name == "solved" else TrialStatus.FINISHED,
                           accuracy_by_length=[1.0] * 40 + [curves[name][-1]] * 460, summary=summary)
    data = load(store, ["s"])
    metrics = store.frames(["s"], tables=("metrics",))["metrics"]
    table = unsolved_progress(data, metrics).set_index("seed")
    assert set(table.index) == {0, 1, 2, 4}  # the solved trial is not listed
    assert table.loc[4, "verdict"] == FELL and table.loc[4, "peak_beyond_pct"] == pytest.approx(99.0)
    assert table.loc[0, "verdict"] == PLATEAUED and table.loc[0, "last_gain_step"] == 1000
    assert table.loc[0, "peak_beyond_pct"] == pytest.approx(39.0)
    assert table.loc[1, "verdict"] == IMPROVING
    assert table.loc[2, "verdict"] == TOO_SHORT
    store.dispose()
