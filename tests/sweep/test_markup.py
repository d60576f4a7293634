"""User text that looks like rich markup (`[/bold]`, `[/x]`) or an emoji code (`:x:`) is printed as it is
written by validate, status, report and the live progress: never a MarkupError, never an emoji."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rich.console import Console

from sdssm.cli import main
from sdssm.sweep.progress import SweepProgress
from sdssm.sweep.spec import load_spec
from sdssm.sweep.store import Store, TrialStatus
from tests.sweep.conftest import TINY_TRAIN, cli

LOOKS_LIKE_MARKUP = "odd[/bold] [/x] :x:"
AUTOMATON = {"name": "flip[/bold]:x:", "description": LOOKS_LIKE_MARKUP, "states": ["lo", "hi"],
             "alphabet": ["set", "clear"], "start": "lo", "labels": {"lo": 0, "hi": 1},
             "transitions": {"lo": {"set": "hi", "clear": "lo"}, "hi": {"set": "hi", "clear": "lo"}}}


def _spec(folder: Path, seeds: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "odd[x]:x:.yaml"
    path.write_text(yaml.safe_dump({
        "name": "odd", "description": LOOKS_LIKE_MARKUP, "train": TINY_TRAIN,
        "grid": {"task": "automaton", "task_params": {"spec": AUTOMATON}, "seed": seeds or [0, 1]}}))
    return path


def test_validate_status_and_report_print_markup_like_text_literally(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # table cells on one line each
    spec_path = _spec(tmp_path / "[/x]dir")
    assert main(["validate", str(spec_path)]) == 0
    out = capsys.readouterr().out
    assert f"{spec_path} is valid: 2 trials" in out and "flip[/bold]:x:" in out and "❌" not in out

    spec = load_spec(spec_path)
    db = str(tmp_path / "r.db")
    store = Store(db)
    store.register_sweep(spec.name, spec.trials, description=spec.description, spec_path=str(spec_path),
                         spec_text=spec.source_text)
    store.mark_running(spec.trials[0].key)
    store.record_failure(spec.trials[0].key, f"ValueError: {LOOKS_LIKE_MARKUP}")
    store.dispose()
    assert main(["status", "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"ValueError: {LOOKS_LIKE_MARKUP}" in out and "flip[/bold]:x:" in out and "❌" not in out
    assert main(["report", "--db", db, "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "flip[/bold]:x:" in out and "❌" not in out


def test_live_progress_prints_markup_like_text_literally(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path))
    console = Console(record=True, width=200, emoji=False)
    with SweepProgress(spec.name, list(spec.trials), already_done=0, concurrency=1, console=console) as progress:
        key = spec.trials[0].key
        progress.update(key, TrialStatus.RUNNING, result={"beyond_accuracy": 0.5})
        progress.update(key, TrialStatus.RUNNING, retry=True)
        progress.update(key, TrialStatus.FINISHED, result={"beyond_accuracy": 0.75, "steps": 60})
    text = console.export_text()
    assert "flip[/bold]:x:" in text and "❌" not in text


@pytest.mark.timeout(300)
def test_a_tiny_run_then_status_and_report_as_a_user_runs_them(tmp_path: Path) -> None:
    """The same sweep through `run` on a real local Ray (fresh processes, as a user would type them)."""
    spec_path = _spec(tmp_path / "[/x]dir", seeds=[0])
    db = str(tmp_path / "results.db")
    run = cli("run", str(spec_path), "--db", db, "--storage", str(tmp_path / "ray"), "--num-cpus", "2",
              "--no-dashboard", cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "flip[/bold]:x:" in run.stdout and "❌" not in run.stdout and "MarkupError" not in run.stderr
    for command in (["status", "--db", db], ["report", "--db", db, "--out", str(tmp_path / "report")]):
        shown = cli(*command, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "flip[/bold]:x:" in shown.stdout and "❌" not in shown.stdout
