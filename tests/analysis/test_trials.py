"""`sdssm-sweep trials` and `export` over the synthetic database (tests/analysis/synthetic.py): every
trial listed with its flattened configuration, filters, sorting, the three formats, CSV and Parquet
exports that pandas reads back, and bad input as one message with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.trials import TrialQueryError, apply_filters, flatten_config, sort_table, trial_table
from sdssm.cli import main
from sdssm.sweep.store import Store
from tests.analysis.synthetic import EXTRA, MAIN


def test_the_table_has_every_trial_once_with_its_configuration_flattened(store: Store) -> None:
    table = trial_table(store)
    assert len(table) == len({spec.config.key for spec in MAIN + EXTRA}) == table["key"].nunique()
    d4 = table[table["task"] == "Dn"]
    assert set(d4["task.n"]) == {4}  # task_params become task.<name> columns
    assert {"lr", "k", "p", "seed", "readout", "status", "beyond_accuracy", "peak_beyond_accuracy",
            "sweeps"} <= set(table.columns)
    rnn_parity = table[(table["model"] == "rnn") & (table["task"] == "parity_check")]
    assert list(rnn_parity["sweeps"]) == ["extra"]


def test_filters_and_sorting(store: Store) -> None:
    table = trial_table(store, ["main"])
    parity = apply_filters(table, ["task=parity_check", "model=sdssm", "readout=linear"])
    assert len(parity) == 8
    assert len(apply_filters(parity, ["lr=1e-4"])) == 5  # 1e-4 typed here equals 0.0001 stored
    assert len(apply_filters(parity, ["lr!=0.0001"])) == 3
    assert len(apply_filters(parity, ["beyond_accuracy>=0.999"])) == 3
    ranked = sort_table(parity, "beyond_accuracy", descending=True)
    assert list(ranked["beyond_accuracy"][:3]) == [1.0, 1.0, 0.999]
    assert list(sort_table(parity, "beyond_accuracy")["beyond_accuracy"][:2]) == [0.6, 0.7]
    assert set(apply_filters(table, ["status=failed"])["model"]) == {"diagonal"}


@pytest.mark.parametrize("bad, message", [
    ("lrr=1e-3", "no column 'lrr' (did you mean 'lr'?)"),
    ("lr~1", "is not NAME OP VALUE"),
])
def test_bad_filters_name_what_is_wrong(store: Store, bad: str, message: str) -> None:
    with pytest.raises(TrialQueryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        apply_filters(trial_table(store), [bad])


def test_cli_formats(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["trials", "--db", db_url, "--sweep", "main", "--task", "parity_check", "--model", "sdssm"]
    assert main(base + ["--format", "json", "--sort", "beyond_accuracy", "--desc", "--limit", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["beyond_accuracy"] for row in rows] == [1.0, 1.0] and "lr" in rows[0]
    assert main(base + ["--format", "csv", "--columns", "seed,lr,status"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "seed,lr,status" and len(lines) == 1 + 10
    assert main(base + ["--where", "readout=mlp"]) == 0
    out = capsys.readouterr().out
    assert "2 trial(s)" in out and "60.00" in out and "65.00" in out  # accuracies as % in the table
    assert main(["trials", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "modular_arithmetic" in out and "…" not in out  # long text wraps, never cut (sdssm.sweep.fit)
    assert max(len(line) for line in out.splitlines()) <= 80  # fits a terminal without wrapping


@pytest.mark.parametrize("args, message", [
    (["trials", "--sweep", "nope"], "no sweep named 'nope'"),
    (["trials", "--sort", "beyond"], "no column 'beyond'"),
    (["trials", "--columns", "seed,bogus"], "--columns: no column 'bogus'"),
    (["trials", "--limit", "-1"], "--limit must be >= 0"),
    (["export", "{tmp}/out", "--sweep", "nope"], "no sweep named 'nope'"),
])
def test_cli_bad_input_is_one_message(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      args: list[str], message: str) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(args + ["--db", db_url]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_what_pandas_reads_back(db_url: str, tmp_path: Path, fmt: str) -> None:
    assert main(["export", str(tmp_path / "out"), "--db", db_url, "--sweep", "main", "--format", fmt]) == 0
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    trials = read(tmp_path / "out" / f"trials.{fmt}")
    metrics = read(tmp_path / "out" / f"metrics.{fmt}")
    lengths = read(tmp_path / "out" / f"lengths.{fmt}")
    assert len(trials) == len(MAIN) and not list((tmp_path / "out").glob(".*partial"))
    # one row per trial and step / length, each with its trial's configuration
    assert {"trial_key", "step", "beyond_accuracy", "lr", "task", "seed", "status"} <= set(metrics.columns)
    assert {"trial_key", "length", "accuracy", "lr", "task"} <= set(lengths.columns)
    solved = trials[trials["status"] == "solved"]
    assert set(lengths["trial_key"]) >= set(solved["key"])
    assert lengths.groupby("trial_key")["length"].max().max() == 500
    by_seed = lengths[lengths["task"] == "parity_check"].groupby(["lr", "seed"])["accuracy"].mean()
    assert len(by_seed) > 0  # ready for group-bys


def test_a_config_stored_before_a_field_existed_reads_as_its_default() -> None:
    old = flatten_config({"model": "diagonal", "task_params": {"n": 4}})
    assert old["layers"] == 1 and old["supervision"] == "last" and old["task.n"] == 4
    assert flatten_config({"model": "diagonal", "layers": 2})["layers"] == 2
