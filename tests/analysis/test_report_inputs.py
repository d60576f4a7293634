"""Which trials a report reads, the labels it gives them, and the errors it raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.labels import model_label, sanitize, task_facts, task_sort_key
from analysis.report import ReportError, build_report
from sdssm.sweep.store import Store
from tests.analysis import expected as E
from tests.analysis.mdtables import row, table


def test_model_labels() -> None:
    assert model_label("sdssm", "linear") == "SD-SSM (linear)"
    assert model_label("sdssm", "mlp") == "SD-SSM (MLP)"
    assert model_label("diagonal+B", "linear") == "Diagonal+B (linear)"
    assert model_label("diagonal", "mlp") == "Diagonal (MLP)"
    assert model_label("rnn", "linear") == "RNN" and model_label("lstm", "mlp") == "LSTM (MLP)"


def test_task_order_and_facts() -> None:
    names = [("A5", "A5"), ("Dn", "Dn(n=30)"), ("Dn", "Dn(n=4)"), ("zeta", "zeta"), ("C2xCn", "C2xCn(n=4)"),
             ("modular_arithmetic", "modular_arithmetic"), ("parity_check", "parity_check"),
             ("alpha", "alpha"), ("even_pairs", "even_pairs"), ("cycle_navigation", "cycle_navigation")]
    ordered = [label for _, label in sorted((task_sort_key(t, label), label) for t, label in names)]
    assert ordered == ["parity_check", "even_pairs", "cycle_navigation", "modular_arithmetic", "C2xCn(n=4)",
                       "Dn(n=4)", "Dn(n=30)", "A5", "alpha", "zeta"]
    assert task_facts("parity_check").kind == "commutative"
    assert task_facts("Dn", {"n": 4}).kind == "non-commutative"
    assert task_facts("A5").kind == "non-commutative"
    assert task_facts("no_such_task_xyz").kind == "unknown"
    assert sanitize("Dn(n=30)") == "Dn_n_30"


def test_the_sweep_run_last_by_default(store: Store, tmp_path: Path) -> None:
    report = build_report(store, None, tmp_path)  # "extra" was registered (run) after "main"
    assert "**Sweeps:** `extra` (the sweep run most recently" in report.text
    assert [r["model"] for r in table(report.text, "Table 1: length generalization")] == ["RNN"]
    assert "sweep" not in table(report.text, "Table 1: length generalization")[0]  # one sweep: no column


def test_all_sweeps_keeps_each_sweep_apart(store: Store, tmp_path: Path) -> None:
    report = build_report(store, None, tmp_path, all_sweeps=True)
    rows = table(report.text, "Table 1: length generalization")
    assert [(r["sweep"], r["model"]) for r in rows] == [("main", m) for m in E.MODELS] + [("extra", "RNN")]
    assert list(rows[0])[-1] == "toy_task?"  # unknown task: after the paper's, marked unknown
    assert row(rows, sweep="extra", model="RNN")["parity_check†"] == "50.0 (50.0, n=1)"
    assert row(rows, sweep="extra", model="RNN")["toy_task?"] == "90.0 (90.0, n=1)"
    assert row(rows, sweep="main", model=E.SD)["toy_task?"] == "—"
    assert row(rows, sweep="main", model=E.SD)["parity_check†"] == E.TABLE1[(E.SD, E.PARITY)][1]  # as alone
    assert "**Sweeps:** `main`, `extra` (every sweep in the database)" in report.text
    assert "a cell never pools trials of different sweeps" in report.text
    per_sweep = {r["sweep"]: r for r in table(report.text, "SD-SSM sweep report")}
    assert (per_sweep["main"]["total"], per_sweep["extra"]["total"], per_sweep["all"]["total"]) == ("21", "2", "23")
    assert (tmp_path / "curves_extra_toy_task.png").is_file() and (tmp_path / "curves_main_D4.png").is_file()
    assert set(report.tables["table1"]["sweep"]) == {"main", "extra"}


def test_named_sweep_only(store: Store, tmp_path: Path) -> None:
    report = build_report(store, ["extra"], tmp_path, "json")
    assert [r["model"] for r in report.tables["table1"].to_dict("records")] == ["RNN", "RNN"]
    assert "failed" not in report.text  # the extra sweep has no failures
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.json").is_file()


def test_unknown_sweep_names_the_existing_ones(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"no sweep named 'nope'.*main, extra"):
        build_report(store, ["main", "nope"], tmp_path)
    assert not (tmp_path / "report.md").exists()


def test_empty_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ReportError, match="no trials"):
        build_report(store, None, tmp_path / "out")
    store.register_sweep("empty", [])
    with pytest.raises(ReportError, match="no trials in sweep"):
        build_report(store, ["empty"], tmp_path / "out")
    assert issubclass(ReportError, ValueError)


def test_bad_format_and_out_dir(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="unknown report format 'docx'"):
        build_report(store, None, tmp_path, "docx")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError, match="not a folder"):
        build_report(store, None, tmp_path / "file")
