"""A cell is one sweep's trials of one model on one task instance; peak and final are labelled apart.

Databases written through the store's API: two sweeps of the same model and task with different budgets
(and different numbers), a trial shared by both, two user automata, and a supervision comparison.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.load import load
from analysis.report import build_report
from sdssm.config import TrialConfig
from sdssm.sweep.store import Store, distinct_task_labels, task_label
from tests.analysis.mdtables import row, table
from tests.analysis.synthetic import P, cfg, finished, solved, write

SD, SD_MLP = "SD-SSM (linear)", "SD-SSM (MLP)"
SHORT = [finished(cfg(P, seed=0, max_steps=6000), 0.60), finished(cfg(P, seed=1, max_steps=6000), 0.70),
         finished(cfg(P, readout="mlp", seed=0, max_steps=6000), 0.50)]
LONG = [solved(cfg(P, seed=0, max_steps=1_000_000), 1.0, 40000, 400.0),
        solved(cfg(P, seed=1, max_steps=1_000_000), 0.99, 90000, 900.0, in_range=0.99),
        finished(cfg(P, readout="mlp", seed=0, max_steps=1_000_000), 0.55)]
SHARED = finished(cfg(P, "rnn", seed=0), 0.50)  # one trial (one key) in both sweeps


def _one(frame: pd.DataFrame, **match: object) -> pd.Series:
    hits = frame[(frame[list(match)] == pd.Series(match)).all(axis=1)]
    assert len(hits) == 1, (match, hits)
    return hits.iloc[0]


@pytest.fixture()
def budgets(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'budgets.db'}")
    write(store, "short", SHORT + [SHARED])
    # The short sweep's seed-0 trial peaked at 98% in a periodic evaluation and ended at 60%.
    store.record_metrics(SHORT[0].config.key, [{"step": 1000, "beyond_accuracy": 0.98, "wall_time_s": 5.0}])
    write(store, "long", LONG + [SHARED])
    return store


def test_default_is_the_sweep_run_last_and_a_rerun_makes_a_sweep_the_latest(budgets: Store) -> None:
    assert load(budgets).sweeps == ["long"]
    assert budgets.sweeps_by_last_run() == ["long", "short"]
    budgets.register_sweep("short", [spec.config for spec in SHORT + [SHARED]])  # what `run` does first
    data = load(budgets)
    assert data.sweeps == ["short"] and data.chosen == "latest"
    assert load(budgets, all_sweeps=True).sweeps == ["short", "long"]  # in the order they were created
    assert load(budgets, ["long"]).chosen == "named"


def test_cells_never_pool_two_sweeps(budgets: Store, tmp_path: Path) -> None:
    report = build_report(budgets, ["short", "long"], tmp_path)
    t1 = report.tables["table1"]
    short, long = _one(t1, sweep="short", model=SD, task=P), _one(t1, sweep="long", model=SD, task=P)
    assert (short["best_pct"], short["n_trials"], short["n_seeds"]) == (70.0, 2, 2)
    assert (long["best_pct"], long["n_trials"], long["n_seeds"]) == (100.0, 2, 2)
    assert long["mean_pct"] == pytest.approx(99.5)
    for sweep in ("short", "long"):  # the shared trial counts in each sweep
        rnn = _one(t1, sweep=sweep, model="RNN", task=P)
        assert (rnn["best_pct"], rnn["n_trials"]) == (50.0, 1)
    rows = table(report.text, "Table 1: length generalization")
    assert row(rows, sweep="short", model=SD)["parity_check†"] == "70.0 (65.0 ± 7.1, n=2)"
    assert row(rows, sweep="long", model=SD)["parity_check†"] == "100.0 (99.5 ± 0.7, n=2)"
    assert row(rows, sweep="long", model="RNN")["parity_check†"] == "50.0 (50.0, n=1)"
    assert "**Sweeps:** `short`, `long`" in report.text

    ablation = report.tables["readout_ablation"]
    assert len(ablation) == 2
    assert _one(ablation, sweep="short")["delta_beyond_pct"] == pytest.approx(50.0 - 70.0)
    assert _one(ablation, sweep="long")["delta_beyond_pct"] == pytest.approx(55.0 - 100.0)
    sensitivity = report.tables["sensitivity"]
    by_lr = sensitivity[(sensitivity["axis"] == "lr") & (sensitivity["model"] == SD)]
    assert sorted(zip(by_lr["sweep"], by_lr["n_trials"], by_lr["best_pct"])) == [("long", 2, 100.0),
                                                                                 ("short", 2, 70.0)]
    solve = report.tables["time_to_solve"]
    assert (_one(solve, sweep="short", model=SD)["n_solved"], _one(solve, sweep="long", model=SD)["n_solved"]) == (0, 2)
    assert _one(solve, sweep="long", model=SD)["median_solved_step"] == 65000.0
    assert "parity_check: SD-SSM (linear) (sweep short)" in report.text
    assert sorted(p.path.name for p in report.plots) == ["curves_long_parity_check.png",
                                                         "curves_short_parity_check.png"]


def test_peak_and_final_are_labelled_apart(budgets: Store, tmp_path: Path) -> None:
    report = build_report(budgets, ["short"], tmp_path)
    best = row(table(report.text, "Best cells: hyperparameters and counts"), model=SD, task=P)
    assert best["final %"] == "70.0"  # the cell's number: the seed-1 trial's final evaluation
    assert best["peak (periodic eval) %"] == "50.0"  # that same trial's best periodic evaluation
    trials = load(budgets, ["short"]).trials
    seed0 = trials[trials["key"] == SHORT[0].config.key].iloc[0]
    assert (seed0["beyond_pct"], seed0["peak_pct"]) == (pytest.approx(60.0), pytest.approx(98.0))
    assert "of the trial's **final** evaluation" in report.text and "*peak (periodic eval)*" in report.text
    assert "a **periodic evaluation**" in report.text  # solved (time to solve) is a periodic-eval event


MOD3_RESET = {"name": "mod3_reset", "states": ["0", "1", "2"], "alphabet": ["inc", "reset"], "start": "0",
              "transitions": {"0": {"inc": "1", "reset": "0"}, "1": {"inc": "2", "reset": "0"},
                              "2": {"inc": "0", "reset": "0"}},
              "labels": {"0": 0, "1": 1, "2": 2}}
FLIP_FLOP = {"name": "flip_flop", "states": ["low", "high"], "alphabet": ["read", "set", "clear"],
             "start": "low", "transitions": {"low": {"read": "low", "set": "high", "clear": "low"},
                                             "high": {"read": "high", "set": "high", "clear": "low"}},
             "labels": {"low": 0, "high": 1}}


def _automaton(spec: dict, **more: object) -> TrialConfig:
    return cfg("automaton", task_params={"spec": spec}, **more)


def test_two_automata_are_two_columns(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'automata.db'}")
    unnamed_a = {k: v for k, v in MOD3_RESET.items() if k != "name"}
    unnamed_b = {k: v for k, v in FLIP_FLOP.items() if k != "name"}
    write(store, "automata", [finished(_automaton(MOD3_RESET), 0.9), finished(_automaton(FLIP_FLOP), 0.4),
                              finished(_automaton(unnamed_a), 0.8), finished(_automaton(unnamed_b), 0.3)])
    report = build_report(store, None, tmp_path)
    frame = report.tables["table1"]
    tasks = set(frame["task"])
    assert len(tasks) == 4 and {"flip_flop", "mod3_reset"} < tasks
    unnamed = sorted(tasks - {"flip_flop", "mod3_reset"})  # no name: 'automaton', told apart by a hash
    assert len(unnamed) == 2 and all(t.startswith("automaton [") for t in unnamed)
    assert _one(frame, task="mod3_reset")["best_pct"] == pytest.approx(90.0)
    assert _one(frame, task="flip_flop")["best_pct"] == pytest.approx(40.0)
    assert set(frame["n_trials"]) == {1}
    header = list(table(report.text, "Table 1: length generalization")[0])
    assert {"mod3_reset", "flip_flop"} < set(header)  # both non-commutative: unmarked


def test_task_labels_are_the_tasks_own_names() -> None:
    tasks = pytest.importorskip("tasks")
    for name in tasks.names():  # without parameters a task is named as registered (no build needed)
        try:
            task = tasks.get(name)
        except ValueError:  # needs parameters
            continue
        assert task_label(name, {}) == task.name, name
    for name, params in (("Dn", {"n": 7}), ("C2xCn", {"n": 30}), ("automaton", {"spec": FLIP_FLOP})):
        assert task_label(name, params) == tasks.get(name, **params).name, (name, params)
    assert task_label("Dn", {"n": 7}) == "D7" and task_label("C2xCn", {"n": 30}) == "C2xC30"
    assert task_label("no_such_task", {"n": 3}) == "no_such_task(n=3)"


def test_task_instances_never_share_a_label() -> None:
    twin = {**FLIP_FLOP, "labels": {"low": 1, "high": 0}}  # another automaton, named alike
    labels = distinct_task_labels([("automaton", {"spec": FLIP_FLOP}), ("automaton", {"spec": twin}),
                                   ("D4", {}), ("Dn", {"n": 4}), ("Dn", {"n": 4}), ("parity_check", {})])
    a, b = labels[:2]
    assert a != b and a.startswith("flip_flop [") and b.startswith("flip_flop [")
    assert labels[2:] == ["D4", "D4 [Dn n=4]", "D4 [Dn n=4]", "parity_check"]  # same config: one label


def test_supervision_is_part_of_the_row_and_time_to_solve_compares_it(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'supervision.db'}")
    write(store, "supervision", [
        solved(cfg(P, seed=0), 1.0, 9000, 90.0), solved(cfg(P, seed=1), 1.0, 12000, 130.0),
        solved(cfg(P, seed=0, supervision="prefixes"), 1.0, 3000, 40.0),
        finished(cfg(P, seed=1, supervision="prefixes"), 0.7), finished(cfg(P, "lstm", seed=0), 0.8)])
    report = build_report(store, ["supervision"], tmp_path)
    last, prefixes = "SD-SSM (linear, supervision=last)", "SD-SSM (linear, supervision=prefixes)"
    assert list(report.tables["table1"]["model"]) == [last, prefixes, "LSTM"]  # LSTM: only the paper's
    rows = table(report.text, "Time to solve")
    assert [(r["task"], r["model"]) for r in rows] == [(P, last), (P, prefixes), (P, "LSTM")]
    assert row(rows, model=last)["steps per seed"] == "9000, 12000"
    assert row(rows, model=last)["wall (s) per seed"] == "90.0, 130.0"
    assert row(rows, model=last)["median steps"] == "10500"
    assert row(rows, model=prefixes)["steps per seed"] == "3000, not solved"
    assert row(rows, model=prefixes)["solved / done"] == "1/2"
    # only the paper's supervision: the labels stay as they were
    write(store, "paper", [finished(cfg(P, seed=5), 0.9)])
    assert list(build_report(store, ["paper"], tmp_path / "paper").tables["table1"]["model"]) == [SD]


def test_a_supervision_per_task_keeps_one_row_and_names_each_columns_supervision(tmp_path: Path) -> None:
    """table1.yaml trains some columns on every prefix and others on the last output: one SD-SSM row, and
    the legend says which column used which."""
    store = Store(f"sqlite:///{tmp_path / 'per_task.db'}")
    write(store, "t1", [solved(cfg(P, seed=0), 1.0, 9000, 90.0),
                        solved(cfg("A5", seed=0, supervision="prefixes"), 1.0, 3000, 40.0)])
    report = build_report(store, ["t1"], tmp_path)
    assert set(report.tables["table1"]["model"]) == {SD}
    assert "Supervision per task (the loss on the last output, the paper's, or on every labelled prefix): " \
           "parity_check last, A5 prefixes." in report.text
