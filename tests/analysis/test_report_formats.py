"""Every number of the synthetic database, in every table, in markdown, CSV and JSON."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest

from analysis.report import Report
from tests.analysis import expected as E
from tests.analysis.mdtables import row, sections, table

T1 = "Table 1: length generalization"
BEST = "Best cells: hyperparameters and counts"
ABLATION = "Readout ablation: linear vs MLP"
TIME = "Time to solve"
FAILED = "Failed trials"


def pct(value: float, signed: bool = False) -> str:
    if math.isnan(value):
        return "—"
    return "0.0" if round(value, 1) == 0 else (f"{value:+.1f}" if signed else f"{value:.1f}")


# --- markdown --------------------------------------------------------------------------------------
def test_markdown_is_printed_and_written(reports: dict[str, Report]) -> None:
    report = reports["markdown"]
    assert report.files[0].name == "report.md"
    assert report.files[0].read_text(encoding="utf-8") == report.text == report.markdown


def test_markdown_header_counts_and_warnings(reports: dict[str, Report]) -> None:
    text = reports["markdown"].text
    assert "**Sweeps:** `main`" in text
    assert "**Trials:** 21 (2 pending, 1 running, 4 solved, 9 finished, 2 diverged, 3 failed)" in text
    assert "still running: 3 of 21 trials are pending or running" in text
    assert "3 trial(s) failed" in text


def test_markdown_table1_every_cell(reports: dict[str, Report]) -> None:
    rows = table(reports["markdown"].text, T1)
    assert [r["model"] for r in rows] == E.MODELS
    assert list(rows[0]) == ["model", "parity_check†", "modular_arithmetic", "D4"]  # † = commutative
    headers = {E.PARITY: "parity_check†", E.MODA: "modular_arithmetic", E.DN: "D4"}
    for (model, task), values in E.TABLE1.items():
        assert row(rows, model=model)[headers[task]] == values[1], (model, task)
    body = sections(reports["markdown"].text)[T1]
    assert "† commutative automaton" in body and "D4 non-commutative" in body
    assert "sample standard deviation" in body  # the aggregation is documented


def test_markdown_best_cell_hyperparameters_and_counts(reports: dict[str, Report]) -> None:
    rows = table(reports["markdown"].text, BEST)
    assert len(rows) == sum(1 for v in E.TABLE1.values() if v[7] > 0)  # every cell with trials
    for (model, task), (lr, k, p, seed, status, steps, _key) in E.BEST.items():
        r = row(rows, model=model, task=task)
        assert (r["lr"], r["k"], r["p"], r["seed"], r["status"], r["steps"]) == (
            f"{lr:g}", str(k), f"{p:g}", str(seed), status, str(steps))
    assert row(rows, model=E.SD, task=E.PARITY)["trials"] == "8/8"
    assert row(rows, model=E.SD, task=E.DN)["trials"] == "1/3 (2 pending/running)"
    assert row(rows, model=E.DIAG, task=E.DN)["trials"] == "0/2 (2 failed)"
    assert row(rows, model=E.DIAG, task=E.DN)["final %"] == "—"


def test_markdown_readout_ablation(reports: dict[str, Report]) -> None:
    rows = table(reports["markdown"].text, ABLATION)
    a = E.ABLATION_PARITY
    r = row(rows, task=E.PARITY, model="SD-SSM")
    assert r["linear in-dist."] == pct(a["linear_in_range_pct"]) and r["linear beyond"] == pct(a["linear_beyond_pct"])
    assert r["MLP in-dist."] == pct(a["mlp_in_range_pct"]) and r["MLP beyond"] == pct(a["mlp_beyond_pct"])
    assert r["Δ in-dist."] == "0.0" and r["Δ beyond"] == "-35.0"  # no sign on a zero
    assert (r["linear trials"], r["MLP trials"]) == ("8/8", "2/2")  # one count per column, never "8/8 / 2/2"
    assert r["linear mean beyond"] == "96.7 ± 5.8 (n=3)" and r["MLP mean beyond"] == "62.5 ± 3.5 (n=2)"
    assert r["Δ mean beyond"] == pct(a["delta_mean_beyond_pct"], signed=True) == "-34.2"
    mod = row(rows, task=E.MODA, model="SD-SSM")  # the MLP side has no result: shown, not dropped
    assert (mod["linear beyond"], mod["MLP beyond"], mod["Δ beyond"]) == ("55.0", "no result", "—")
    assert len(rows) == 2  # Diagonal+B and LSTM have only one readout


def test_markdown_sensitivity(reports: dict[str, Report]) -> None:
    text = reports["markdown"].text
    grid = table(text, f"{E.PARITY}: {E.SD}", 0)
    assert row(grid, **{"k \\ p": "k=8"})["p=1.2"] == f"100.0 / {pct(E.SENSITIVITY[('k×p', 8, 1.2, None)][1])}"
    assert row(grid, **{"k \\ p": "k=6"})["p=1.3"] == "100.0 / 85.0"
    assert row(grid, **{"k \\ p": "k=6"})["p=1.2"] == "—"
    by_lr = table(text, f"{E.PARITY}: {E.SD}", 1)
    fast = row(by_lr, lr="0.0003")
    assert fast["best / mean"] == f"99.9 / {pct(E.SENSITIVITY[('lr', None, None, 3e-4)][1])}"
    assert fast["std"] == pct(E.SENSITIVITY[("lr", None, None, 3e-4)][2]) and fast["trials"] == "3/3"
    assert row(by_lr, lr="0.0001")["best / mean"] == "100.0 / 96.7"
    running = table(text, f"{E.DN}: {E.SD}", 0)
    assert running[0]["p=1.2"] == "99.5 / 99.5*"


def test_markdown_time_to_solve(reports: dict[str, Report]) -> None:
    rows = table(reports["markdown"].text, TIME)
    for (model, task), (solved, done, _trials, med, low, med_wall, low_wall) in E.TIME_TO_SOLVE.items():
        r = row(rows, model=model, task=task)
        assert r["solved / done"] == f"{solved}/{done}"
        expected = [pct(med).split(".")[0] if not math.isnan(med) else "—",
                    pct(low).split(".")[0] if not math.isnan(low) else "—", pct(med_wall), pct(low_wall)]
        assert [r["median steps"], r["min steps"], r["median wall (s)"], r["min wall (s)"]] == expected


def test_markdown_failures_and_curves(reports: dict[str, Report]) -> None:
    text = reports["markdown"].text
    rows = table(text, FAILED)
    assert {(r["task"], r["model"], int(r["seed"])): r["error"] for r in rows} == E.FAILURES
    assert "![D4](curves_D4.png)" in text
    assert "No curve: Diagonal+B (linear) (failed); LSTM (running)." in text


# --- CSV -----------------------------------------------------------------------------------------
def test_csv_files(reports: dict[str, Report]) -> None:
    names = {path.name for path in reports["csv"].files}
    assert {"report.md", "table1.csv", "readout_ablation.csv", "sensitivity.csv", "time_to_solve.csv",
            "failures.csv", "status.csv"} <= names
    assert "table1.csv" in reports["csv"].text and "report.md" in reports["csv"].text
    assert "# SD-SSM sweep report" not in reports["csv"].text  # an index, not the report


def _csv(report: Report, name: str) -> pd.DataFrame:
    return pd.read_csv(next(p for p in report.files if p.name == f"{name}.csv"), keep_default_na=False,
                       na_values=[""])


def _json(report: Report, name: str) -> pd.DataFrame:
    document = json.loads(next(p for p in report.files if p.name == "report.json").read_text(encoding="utf-8"))
    return pd.DataFrame(document["tables"][name])


@pytest.fixture(params=["csv", "json"])
def frame_of(request: pytest.FixtureRequest, reports: dict[str, Report]) -> Any:
    fmt = request.param
    return lambda name: _csv(reports[fmt], name) if fmt == "csv" else _json(reports[fmt], name)


def _one(frame: pd.DataFrame, **match: Any) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in match.items():
        mask &= frame[column].isna() if value is None else frame[column] == value
    assert mask.sum() == 1, match
    return frame[mask].iloc[0]


def test_table1_records(frame_of: Any) -> None:
    frame = frame_of("table1")
    assert len(frame) == len(E.TABLE1)  # every cell, none dropped
    for (model, task), values in E.TABLE1.items():
        r = _one(frame, model=model, task=task)
        for name, value in zip(E.TABLE1_FIELDS, values):
            if isinstance(value, str):
                assert r[name] == value, (model, task, name)
            else:
                assert E.same(r[name], float(value)), (model, task, name, r[name], value)
    for (model, task), (lr, k, p, seed, status, steps, key) in E.BEST.items():
        r = _one(frame, model=model, task=task)
        assert (r["best_key"], r["best_status"]) == (key, status)
        for name, value in (("best_lr", lr), ("best_k", k), ("best_p", p), ("best_seed", seed), ("best_steps", steps)):
            assert E.same(r[name], value), (model, task, name)
    assert _one(frame, model=E.SD, task=E.PARITY)["commutative"] == "commutative"
    assert _one(frame, model=E.SD, task=E.DN)["commutative"] == "non-commutative"


def test_ablation_records(frame_of: Any) -> None:
    r = _one(frame_of("readout_ablation"), task=E.PARITY, model="SD-SSM")
    for name, value in E.ABLATION_PARITY.items():
        assert E.same(r[name], float(value)), name
    mod = _one(frame_of("readout_ablation"), task=E.MODA, model="SD-SSM")
    assert mod["mlp_state"] == "no result" and E.same(mod["delta_beyond_pct"], math.nan)


def test_sensitivity_records(frame_of: Any) -> None:
    frame = frame_of("sensitivity")
    for (axis, k, p, lr), (best, mean, std, seeds, results) in E.SENSITIVITY.items():
        r = _one(frame, task=E.PARITY, model=E.SD, axis=axis, k=k, p=p, lr=lr)
        assert [E.same(r[c], v) for c, v in zip(("best_pct", "mean_pct", "std_pct", "n_seeds", "n_results"),
                                                 (best, mean, std, seeds, results))] == [True] * 5, (axis, k, p, lr)
    assert set(frame["model"]) == {E.SD, E.SD_MLP}  # SD-SSM only


def test_time_to_solve_records(frame_of: Any) -> None:
    frame = frame_of("time_to_solve")
    columns = ("n_solved", "n_done", "n_trials", "median_solved_step", "min_solved_step", "median_solved_wall_s",
               "min_solved_wall_s")
    for (model, task), values in E.TIME_TO_SOLVE.items():
        r = _one(frame, model=model, task=task)
        assert all(E.same(r[c], float(v)) for c, v in zip(columns, values)), (model, task)


def test_failure_records(frame_of: Any) -> None:
    frame = frame_of("failures")
    assert {(r.task, r.model, int(r.seed)): r.error for r in frame.itertuples()} == E.FAILURES


def test_status_counts(reports: dict[str, Report]) -> None:
    counts = pd.read_csv(next(p for p in reports["csv"].files if p.name == "status.csv"), index_col="sweep")
    assert counts.loc["main"].to_dict() == E.STATUS_COUNTS
    document = json.loads(next(p for p in reports["json"].files if p.name == "report.json").read_text())
    assert document["status_counts"]["main"] == E.STATUS_COUNTS
    assert document["sweeps"] == ["main"] and document["models"] == E.MODELS
    assert [t["task"] for t in document["tasks"]] == E.TASKS
