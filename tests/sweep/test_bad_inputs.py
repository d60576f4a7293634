"""The corpus of bad inputs (tests/sweep/bad_inputs.yaml): each is one message and exit code 2 within a
few seconds, without a traceback and without a byte of output on stdout that looks like progress."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sdssm.cli import main
from sdssm.config import TrialConfig
from sdssm.sweep.store import Store
from tests.sweep.conftest import write_spec

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "bad_inputs.yaml").read_text())
SECONDS = 10.0  # each case is refused well within this (most in well under a second)


def _materialise(folder: Path, case: dict[str, Any]) -> list[str]:
    """Write the case's files under `folder`; its command line with {tmp} and {spec} filled in."""
    store = Store(str(folder / "r.db"))
    store.register_sweep("tiny", [TrialConfig()])
    store.dispose()
    spec = write_spec(folder)
    if "spec" in case:
        spec = folder / "spec.yaml"
        spec.write_text(case["spec"])
    for name, content in (case.get("files") or {}).items():
        path = folder / name
        if isinstance(content, str):
            path.write_text(content)
        elif "symlink" in content:
            os.symlink(content["symlink"], path)
        else:
            path.write_text(content["repeat"] * content["times"])
        if name == "spec.yaml":
            spec = path
    args = case.get("args") or ["validate", "{spec}"]
    return [str(a).replace("{tmp}", str(folder)).replace("{spec}", str(spec)) for a in args]


def test_the_corpus_is_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    for case in CASES:
        assert set(case) <= {"id", "args", "spec", "files", "expect"} and case["expect"], case


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_is_one_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             case: dict[str, Any]) -> None:
    args = _materialise(tmp_path, case)
    capsys.readouterr()
    start = time.monotonic()
    code = main(args)
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert case["expect"] in " ".join(err.split()), err  # soft-wrapped lines joined back
    assert "Traceback" not in err
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"
