"""Tables fit 80 columns by choice (issue 13, item 7): a long header becomes a key explained under the table,
long text wraps, and nothing is cut to 'quick…'. `status`, `validate` and `trials` as a user sees them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from sdssm.cli import main
from sdssm.config import TrialConfig
from sdssm.sweep.fit import Fitted, fit_table
from sdssm.sweep.status import status_view
from sdssm.sweep.store import Store, TrialStatus

REPO = Path(__file__).resolve().parents[2]


def rendered(renderable: object, width: int = 80) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def assert_fits(text: str, width: int = 80) -> None:
    assert "…" not in text, text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width, text


def test_a_wide_table_keys_its_longest_headers_and_explains_them() -> None:
    table = Table(title="counts")
    table.add_column("task")
    names = ["diagonal/linear noB", "diagonal/mlp noB", "sdssm/linear", "sdssm/mlp", "diagonal+B/linear",
             "diagonal+B/mlp", "rnn/linear"]
    for name in names:
        table.add_column(name, justify="right")
    table.add_row("modular_arithmetic", *["1"] * len(names))
    text = rendered(Fitted(table))
    assert_fits(text)
    assert "modular_arithmetic" in text  # the row names are whole
    legend = next(line for line in text.splitlines() if line.startswith("columns: "))
    assert legend.startswith("columns: A = diagonal/linear noB; B = diagonal/mlp noB")  # left to right
    assert rendered(table, width=300).count("diagonal/linear noB") == 1  # the table itself is unchanged


def test_a_table_that_fits_is_printed_as_it_is() -> None:
    table = Table()
    table.add_column("task")
    table.add_row("parity_check")
    assert fit_table(table, 80, Console(file=io.StringIO())) is table


def test_status_fits_80_columns(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    configs = [TrialConfig(task=task, model=model, readout=readout, supervision=supervision, seed=0)
               for task in ("modular_arithmetic", "cycle_navigation") for model in ("sdssm", "diagonal")
               for readout in ("linear", "mlp") for supervision in ("last", "prefixes")]
    store.register_sweep("a_long_sweep_name", configs)
    store.mark_running(configs[0].key, node="a-host-name (node 1a2b3c4d)")
    store.record_metrics(configs[0].key, [{"step": 500, "beyond_accuracy": 0.5, "wall_time_s": 1.0}])
    store.record_final(configs[1].key, status=TrialStatus.FINISHED, accuracy_by_length=None,
                       summary={"beyond_accuracy": 0.907, "steps": 100})
    text = rendered(status_view(store))
    assert_fits(text)
    assert "a_long_sweep_name" in text and "modular_arithmetic" in text
    assert "= peak (periodic eval)" in text  # a keyed header is explained
    store.dispose()


def test_validate_fits_80_columns(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["validate", str(REPO / "sweeps" / "table1.yaml")]) == 0
    text = capsys.readouterr().out
    assert_fits(text.split("\nk x")[0])  # the table (the caption's long lines are soft-wrapped text)
    assert "diagonal/linear noB" in text and "modular_arithmetic" in text


def test_trials_wraps_long_text_rather_than_cutting_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(str(tmp_path / "s.db"))
    store.register_sweep("quickstart_with_a_long_name", [TrialConfig(task="modular_arithmetic", seed=0)])
    store.dispose()
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["trials", "--db", str(tmp_path / "s.db"), "--columns",
                 "key,task_label,sweeps,variant,status,seed,lr,steps,beyond_accuracy,peak_beyond_accuracy"]) == 0
    text = capsys.readouterr().out
    assert_fits(text)
    row, more = text.splitlines()[1:3]
    assert "modular_arithmetic" in row  # fits whole
    assert "quickstart_with_a_" in row and more.strip() == "long_name"  # too long for 80: it folds, never cut
