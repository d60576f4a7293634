"""Claims as data: files validated like sweep files, verdicts on the synthetic database, `check` exits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.claims import FAILS, HOLDS, NO_DATA, ClaimsError, _matches, evaluate_files, load_claims
from sdssm.cli import main
from sdssm.sweep.store import Store

# The synthetic database (tests/analysis/synthetic.py), sweep "main": parity SD-SSM linear per-seed best
# 100 / 100 / 90, MLP 60 / 65; parity Diagonal+B 98 (seed 0); Dn(n=4) SD-SSM linear seed 0: 99.5 (two more
# seeds pending/running); modular arithmetic SD-SSM linear 55 (diverged), MLP without an accuracy.
CLAIMS = """
paper: "Synthetic et al."
sweeps: [main]
claims:
  - id: best_parity
    claim: "SD-SSM reaches 99.9 on parity"
    trials: {model: sdssm, readout: linear}
    tasks: [parity_check]
    expect: ">= 99.9"
  - id: two_seeds
    claim: "on two of three seeds"
    trials: {model: sdssm, readout: linear}
    tasks: [parity_check]
    over: seeds
    min_seeds: 2
    expect: ">= 99.9"
  - id: three_seeds
    claim: "on all three seeds"
    trials: {model: sdssm, readout: linear}
    tasks: [parity_check]
    over: seeds
    min_seeds: 3
    expect: ">= 99.9"
  - id: mean
    claim: "mean over seeds"
    trials: {model: sdssm, readout: linear}
    tasks: [parity_check]
    over: mean
    expect: "> 96"
  - id: mlp_hurts
    claim: "the MLP readout loses > 30 points"
    trials: {model: sdssm, readout: linear}
    minus: {model: sdssm, readout: mlp}
    tasks: [parity_check]
    expect: ">= 30"
  - id: mlp_hurts_per_seed
    claim: "... on every seed, paired"
    trials: {model: sdssm, readout: linear}
    minus: {model: sdssm, readout: mlp}
    tasks: [parity_check]
    over: seeds
    min_seeds: 2
    expect: ">= 35"
  - id: diagonal_fails
    claim: "the diagonal fails everywhere"
    trials: {model: diagonal}
    tasks: [parity_check, Dn]
    expect: "< 90"
  - id: lr_selected
    claim: "lr 3e-4 alone reaches 99.95 (lr 1e-4 does: 100)"
    trials: {model: sdssm, readout: linear, lr: 3.0e-4}
    tasks: [parity_check]
    expect: ">= 99.95"
  - id: no_data
    claim: "D4 on two seeds"
    trials: {model: sdssm, readout: linear}
    tasks: [Dn]
    over: seeds
    min_seeds: 2
    expect: ">= 99"
  - id: other_sweep
    claim: "the RNN of sweep extra is not evidence here"
    sweeps: [extra]
    trials: {model: rnn}
    tasks: [parity_check]
    expect: "<= 50"
"""


@pytest.fixture()
def claims_file(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.yaml"
    path.write_text(CLAIMS, encoding="utf-8")
    return path


def test_verdicts_on_the_synthetic_database(store: Store, claims_file: Path) -> None:
    results = {r.claim.id: r for r in evaluate_files(store, [claims_file])}
    expected = {"best_parity": HOLDS, "two_seeds": HOLDS, "three_seeds": FAILS, "mean": HOLDS,
                "mlp_hurts": HOLDS, "mlp_hurts_per_seed": HOLDS, "diagonal_fails": FAILS,
                "lr_selected": FAILS, "no_data": NO_DATA, "other_sweep": HOLDS}
    assert {k: r.verdict for k, r in results.items()} == expected
    assert results["best_parity"].tasks[0].value == pytest.approx(100.0)
    assert results["three_seeds"].tasks[0].value == 2  # seeds meeting the threshold
    assert results["mean"].tasks[0].value == pytest.approx(96.6667, abs=1e-3)
    assert results["mlp_hurts"].tasks[0].value == pytest.approx(100.0 - 65.0)
    # Paired by seed: seed 0 100 - 60, seed 1 100 - 65.
    assert "seed 0: 40.00, seed 1: 35.00" in results["mlp_hurts_per_seed"].tasks[0].evidence
    verdicts = {t.task: t.verdict for t in results["diagonal_fails"].tasks}
    assert verdicts == {"parity_check": FAILS, "Dn": NO_DATA}  # 98 >= 90; D4's diagonal trials all failed
    assert results["lr_selected"].tasks[0].value == pytest.approx(99.9)
    assert "2 still pending or running" in results["no_data"].tasks[0].evidence


def test_sweep_option_replaces_the_claims_sweeps(store: Store, claims_file: Path) -> None:
    results = {r.claim.id: r for r in evaluate_files(store, [claims_file], ["extra"])}
    assert results["best_parity"].verdict == NO_DATA  # no SD-SSM trials in sweep extra
    assert results["other_sweep"].verdict == HOLDS


def test_a_sweep_missing_from_the_store_is_named(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CLAIMS.replace("sweeps: [main]", "sweeps: [table1]"), encoding="utf-8")
    result = evaluate_files(store, [path])[0]
    assert result.verdict == NO_DATA and result.missing_sweeps == ["table1"]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('expect: ">= 99.9"', 'expect: "about 99"', 1), "claims.0.expect: must be a comparison"),
    (lambda t: t.replace("readout: linear}", "readuot: linear}", 1), "unknown trial field 'readuot'"),
    (lambda t: t.replace("over: seeds", "over: median", 1), "claims.1.over: Input should be 'best', 'mean'"),
    (lambda t: t.replace("id: two_seeds", "id: best_parity"), "duplicate id(s) best_parity"),
    (lambda t: t.replace('paper: "Synthetic et al."', "paper: x\ncolour: red"), "colour: unknown key"),
    (lambda t: t.replace("sweeps: [main]\n", ""), "claims[0] (best_parity): no sweeps"),
    (lambda t: t.replace("tasks: [parity_check]", "tasks: []", 1), "claims.0.tasks"),
    (lambda t: "[1, 2", "not valid YAML"),
    (lambda t: "- a list", "the top level must be a mapping"),
])
def test_bad_claims_files_give_one_message(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(edit(CLAIMS), encoding="utf-8")
    with pytest.raises(ClaimsError) as err:
        load_claims(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_check_command_exit_codes(db_url: str, claims_file: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(claims_file), "--db", db_url]) == 1  # three_seeds and others fail
    out = capsys.readouterr().out
    assert "three_seeds" in out and "✗" in out and "✓" in out
    holding = tmp_path / "holding.yaml"
    holding.write_text(CLAIMS.split("  - id: two_seeds")[0], encoding="utf-8")
    assert main(["check", str(holding), "--db", db_url]) == 0
    lacking = tmp_path / "lacking.yaml"
    lacking.write_text(CLAIMS.replace("sweeps: [main]", "sweeps: [nowhere]").split("  - id: two_seeds")[0],
                       encoding="utf-8")
    assert main(["check", str(lacking), "--db", db_url]) == 0
    assert main(["check", str(lacking), "--db", db_url, "--strict"]) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("paper: x\n", encoding="utf-8")
    assert main(["check", str(bad), "--db", db_url]) == 2
    assert "claims: required" in capsys.readouterr().err


def test_shipped_claims_files_are_valid() -> None:
    shipped = sorted((Path(__file__).resolve().parents[2] / "claims").glob("*.yaml"))
    assert shipped
    for path in shipped:
        assert load_claims(path).claims


def test_the_report_opens_with_the_claims_of_its_sweeps(store: Store, claims_file: Path, tmp_path: Path) -> None:
    from analysis.report import build_report

    report = build_report(store, ["main"], tmp_path / "out", "json", claims_dir=claims_file.parent)
    text = report.markdown
    assert text.index("## Claims") < text.index("## Table 1")
    assert "- ✗ **three_seeds**" in text and "- ✓ **best_parity**" in text
    assert "other_sweep" not in text  # its evidence is sweep extra, not in this report
    claims = report.tables["claims"]
    assert set(claims["claim"]) == {"best_parity", "two_seeds", "three_seeds", "mean", "mlp_hurts",
                                    "mlp_hurts_per_seed", "diagonal_fails", "lr_selected", "no_data"}
    assert "claims" in (tmp_path / "out" / "report.json").read_text()
    assert "## Unsolved trials: plateaued or out of steps" in text


def test_a_value_just_under_the_threshold_never_reads_as_it() -> None:
    from analysis.claims import _value

    assert _value(99.896, 99.9) == "99.8960" and _value(99.86, 99.9) == "99.86" and _value(99.9, 99.9) == "99.90"


def test_a_selection_by_depth_keeps_layers_apart_and_reads_old_configs_as_one_layer() -> None:
    configs = pd.Series([{"model": "diagonal"},  # stored before `layers` existed: one layer
                         {"model": "diagonal", "layers": 1}, {"model": "diagonal", "layers": 2}])
    assert _matches(configs, {"model": "diagonal", "layers": 1}).tolist() == [True, True, False]
    assert _matches(configs, {"model": "diagonal", "layers": 2}).tolist() == [False, False, True]
    assert _matches(configs, {"model": "diagonal", "layers": [1, 2]}).tolist() == [True, True, True]
