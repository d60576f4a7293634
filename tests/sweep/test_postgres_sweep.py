"""A real sweep with its results in PostgreSQL: `run` on a 2-CPU local Ray (a fresh process, as a user runs
it), then `status`, `report` and `check` against the same database. The database URL carries a password;
no output, report or message may show it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdssm.cli import main
from sdssm.sweep.store import DONE_STATUSES, Store, mask_url
from tests.sweep.conftest import TINY_TRAIN, cli, write_spec
from tests.sweep.postgres import PASSWORD

pytestmark = pytest.mark.timeout(300)

CLAIMS = """
paper: "Tiny"
sweeps: [tiny]
claims:
  - id: learns_something
    claim: "SD-SSM beats a coin beyond the training lengths"
    trials: {model: sdssm, readout: linear}
    tasks: [parity_check]
    expect: ">= 0"
"""


def test_a_sweep_into_postgresql_then_status_report_and_check(pg_url: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert PASSWORD in pg_url
    spec = write_spec(tmp_path, seeds=[0, 1])
    run = cli("run", str(spec), "--db", pg_url, "--storage", str(tmp_path / "ray"), "--num-cpus", "2",
              "--no-dashboard", cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    assert PASSWORD not in run.stdout + run.stderr
    assert mask_url(pg_url) in run.stdout  # the closing hint names the database, masked

    store = Store(pg_url, create=False)
    frames = store.frames(["tiny"])
    assert len(frames["trials"]) == 2 and set(frames["trials"]["status"]) <= DONE_STATUSES
    for key in frames["trials"]["key"]:
        metrics = frames["metrics"][frames["metrics"]["trial_key"] == key]
        assert sorted(metrics["step"]) == list(range(20, TINY_TRAIN["max_steps"] + 1, 20))
    assert store.live_lease("tiny") is None  # the driver released its lease
    store.dispose()

    assert main(["status", "--db", pg_url]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and PASSWORD not in out

    out_dir = tmp_path / "report"
    assert main(["report", "--db", pg_url, "--out", str(out_dir), "--format", "json"]) == 0
    capsys.readouterr()
    report_md = (out_dir / "report.md").read_text()
    assert "parity" in report_md and mask_url(pg_url) in report_md and PASSWORD not in report_md
    document = json.loads(next(out_dir.glob("*.json")).read_text())
    assert document["database"] == mask_url(pg_url)

    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIMS, encoding="utf-8")
    assert main(["check", str(claims), "--db", pg_url]) == 0
    assert "learns_something" in capsys.readouterr().out

    assert main(["status", "--db", pg_url.replace("/t_", "/missing_t_")]) == 2
    err = capsys.readouterr().err
    assert 'database "missing_t_' in err and PASSWORD not in err
