"""The live progress (issue 13, item 3): one line per running trial with its step of max_steps, its current
and peak accuracy beyond training (labelled), and its time; an ETA from observed step rates that accounts
for early stopping; plain lines every N seconds when output is not a terminal. No Ray: the progress is fed
the events the store callback sends (PeriodicResult / FinalResult dicts), on an injected clock."""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.results import FinalResult, PeriodicResult
from sdssm.sweep.progress import SweepProgress
from sdssm.sweep.store import TrialStatus
from tests.sweep.conftest import write_spec

A = TrialConfig(task="D4", seed=0, max_steps=1000)
B = TrialConfig(task="cycle_navigation", seed=1, max_steps=1000)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def periodic(step: int, beyond: float, start: int = 0) -> dict:
    return dataclasses.asdict(PeriodicResult(step=step, loss=0.1, train_accuracy=1.0, in_range_accuracy=1.0,
                                             beyond_accuracy=beyond, wall_time_s=1.0, attempt_start_step=start))


def final(steps: int, beyond: float, status: TrialStatus = TrialStatus.SOLVED) -> dict:
    return dataclasses.asdict(FinalResult(status=status, steps=steps, wall_time_s=1.0, solved_step=steps,
                                          solved_wall_time_s=1.0, in_range_accuracy=1.0, beyond_accuracy=beyond,
                                          accuracy_by_length=None))


def progress(clock: Clock, *, terminal: bool, concurrency: int = 1, interval_s: float = 30.0,
             ) -> tuple[SweepProgress, Console]:
    # As the CLI makes it: long lines stay whole (soft_wrap), no emoji.
    console = Console(record=True, width=80, file=io.StringIO(), force_terminal=terminal, emoji=False,
                      soft_wrap=True)
    return SweepProgress("s", [A, B], already_done=0, concurrency=concurrency, console=console,
                         interval_s=interval_s, clock=clock), console


def panel(view: SweepProgress) -> str:
    console = Console(record=True, width=80, file=io.StringIO())
    console.print(view.render())
    return console.export_text()


def test_a_running_trial_is_one_line_with_step_now_peak_and_time() -> None:
    clock = Clock()
    view, _ = progress(clock, terminal=True)
    view.update(A.key, TrialStatus.RUNNING)
    clock.t = 40.0
    view.update(A.key, TrialStatus.RUNNING, result=periodic(200, 0.98))
    clock.t = 80.0
    view.update(A.key, TrialStatus.RUNNING, result=periodic(400, 0.907))
    text = panel(view)
    row = next(line for line in text.splitlines() if line.startswith("sdssm/linear D4"))
    assert row.split()[-4:] == ["400/1000", "90.7%", "98.0%", "1:20"]  # step, now, peak, time
    header = next(line for line in text.splitlines() if line.startswith("running trial"))
    assert header.split()[-4:] == ["step", "now", "peak", "time"]
    assert "now, peak: beyond training lengths, periodic eval" in text
    assert "\nevery trial: k=8 p=1.2 lr=0.0001" in text
    assert row.split()[:3] == ["sdssm/linear", "D4", "seed=0"]  # the words all trials share are said once
    assert max(map(len, text.splitlines())) <= 80


def test_final_is_labelled_final_and_peak_peak() -> None:
    clock = Clock()
    view, console = progress(clock, terminal=True)
    view.update(A.key, TrialStatus.RUNNING)
    clock.t = 10.0
    view.update(A.key, TrialStatus.RUNNING, result=periodic(500, 0.98))
    view.update(A.key, TrialStatus.FINISHED, result=final(1000, 0.907, TrialStatus.FINISHED))
    assert "final 90.7% beyond training (peak (periodic eval) 98.0%) after 1000 steps" in console.export_text()
    text = panel(view)
    assert "running trial" not in text  # the trial is no longer running
    assert next(line for line in text.splitlines() if line.startswith("sdssm/linear D4")).split()[-2:] == [
        "98.0%", "90.7%"]
    assert "peak (periodic eval)" in text and "final (finished trials)" in text


def test_eta_from_step_rates_is_an_upper_bound_until_trials_stop_early() -> None:
    clock = Clock()
    view, _ = progress(clock, terminal=True)
    view.update(A.key, TrialStatus.RUNNING)
    assert view.eta() is None and "ETA —" in panel(view)  # no step reported yet
    clock.t = 10.0
    view.update(A.key, TrialStatus.RUNNING, result=periodic(100, 0.5))  # 10 steps/s
    eta = view.eta()
    assert eta is not None and eta.upper_bound
    assert eta.seconds == (900 + 1000) / 10  # every remaining step of budget, one trial at a time
    assert "ETA ≤ 3:10 (if no trial stops early)" in panel(view)
    clock.t = 50.0
    view.update(A.key, TrialStatus.SOLVED, result=final(500, 1.0))  # solved at half its budget
    view.update(B.key, TrialStatus.RUNNING)
    clock.t = 60.0
    view.update(B.key, TrialStatus.RUNNING, result=periodic(100, 0.5))
    eta = view.eta()
    assert eta is not None and not eta.upper_bound and eta.fraction == 0.5
    assert eta.seconds == 0.5 * 900 / 10
    assert "ETA ≈ 0:45 (finished trials used 50% of their steps)" in panel(view)


def test_a_first_report_without_driver_time_uses_the_trainers_clock() -> None:
    clock = Clock()
    view, _ = progress(clock, terminal=True)
    view.update(A.key, TrialStatus.RUNNING, result=periodic(200, 0.75))  # wall_time_s 1.0: 200 steps/s
    assert view.eta_s() == (800 + 1000) / 200


def test_eta_with_trials_in_parallel_and_never_below_the_slowest_trial() -> None:
    clock = Clock()
    view, _ = progress(clock, terminal=True, concurrency=2)
    view.update(A.key, TrialStatus.RUNNING)
    view.update(B.key, TrialStatus.RUNNING)
    clock.t = 10.0
    view.update(A.key, TrialStatus.RUNNING, result=periodic(500, 0.5))  # 50 steps/s
    view.update(B.key, TrialStatus.RUNNING, result=periodic(100, 0.5))  # 10 steps/s
    # Together: (500 + 900) steps / (30 steps/s x 2) = 23 s; but B alone needs 900 / 10 = 90 s.
    assert view.eta_s() == 90.0


def test_a_restored_attempt_measures_its_rate_from_where_it_started() -> None:
    clock = Clock()
    view, _ = progress(clock, terminal=True)
    view.update(A.key, TrialStatus.RUNNING)
    clock.t = 10.0
    view.update(A.key, TrialStatus.RUNNING, result=periodic(600, 0.5, start=500))  # 100 steps in 10 s
    assert view.eta_s() == (400 + 1000) / 10


def test_not_a_terminal_prints_plain_lines_every_interval() -> None:
    clock = Clock()
    view, console = progress(clock, terminal=False, interval_s=30.0)
    with view:
        view.update(A.key, TrialStatus.RUNNING)
        clock.t = 20.0
        view.update(A.key, TrialStatus.RUNNING, result=periodic(200, 0.75))
        assert console.export_text(clear=False) == ""  # nothing before the interval has passed
        clock.t = 30.0
        view.refresh()  # what the callback calls on every Tune step
        clock.t = 45.0
        view.refresh()
        first = console.export_text(clear=False)
        clock.t = 60.0
        view.refresh()
    raw = console.file.getvalue()
    assert "\x1b" not in raw  # no ANSI codes in a log file
    lines = raw.splitlines()
    assert lines[0] == ("[0:30] sweep s: 2 to run; pending 1, running 1; elapsed 0:30; "
                        "ETA ≤ 3:00 (if no trial stops early)")
    assert lines[1] == ("[0:30]   running sdssm/linear D4 k=8 p=1.2 lr=0.0001 seed=0: step 200/1000, "
                        "beyond training now 75.0%, peak 75.0%, for 0:30")
    assert first.count("sweep s:") == 1  # 45 s: no second block yet
    assert raw.count("sweep s:") == 3  # 30 s, 60 s, and once more when the run ends
    assert max(map(len, lines)) > 80  # a plain line is never broken, however narrow the console


def test_a_terminal_gets_the_live_panel_not_plain_lines() -> None:
    clock = Clock()
    view, console = progress(clock, terminal=True, interval_s=1.0)
    with view:
        view.update(A.key, TrialStatus.RUNNING)
        clock.t = 10.0
        view.update(A.key, TrialStatus.RUNNING, result=periodic(200, 0.75))
        clock.t = 100.0
        view.refresh()
    text = console.export_text()
    assert "running sdssm" not in text and "running trial" in text and "ETA ≤" in text


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_real_run_into_a_log_file_prints_progress_lines(tmp_path: Path) -> None:
    """`run` with output to a file (as under nohup): plain progress lines every --progress-interval seconds
    while trials run, with their steps, and no ANSI codes."""
    spec = write_spec(tmp_path, seeds=[0, 1], train={"max_steps": 600, "eval_interval": 20})
    log = tmp_path / "run.log"
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "sdssm.cli", "run", str(spec), "--db", str(tmp_path / "r.db"),
                               "--storage", str(tmp_path / "ray"), "--num-cpus", "2", "--no-dashboard",
                               "--progress-interval", "2"], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                              timeout=540)
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\x1b" not in text
    heads = re.findall(r"^\[\d+:\d\d\] sweep tiny: 2 to run; .*; ETA (?:≤|≈|—)", text, flags=re.MULTILINE)
    running = re.findall(r"^\[\d+:\d\d\]   running sdssm/linear parity_check .*: step (\d+)/600, beyond training "
                         r"now [\d.]+%, peak [\d.]+%, for \d+:\d\d$", text, flags=re.MULTILINE)
    assert len(heads) >= 2 and running, text
    assert any(0 < int(step) < 600 for step in running)  # seen while training, not only at the end
