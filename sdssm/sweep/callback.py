"""The driver-side Ray Tune callback that streams every trial event into the store.

Ray Tune runs callbacks on the driver, synchronously, so the driver is the store's only writer.
The callback is pickled into the experiment state: it holds only the DB URL and opens the engine
lazily (never in __init__), and it drops its live-progress display when pickled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ray import tune
from rich.markup import escape

from sdssm.results import FinalResult
from sdssm.sweep.progress import SweepProgress
from sdssm.sweep.store import Store, TrialStatus
from sdssm.sweep.trainable import TrialReport


class StoreCallback(tune.Callback):
    def __init__(self, db_url: str, progress: SweepProgress | None = None, *,
                 scheduler_stops_trials: bool = False) -> None:
        self.db_url = db_url
        self.scheduler_stops_trials = scheduler_stops_trials
        self.progress = progress
        self._store: Store | None = None
        self._finished: set[str] = set()  # keys whose final result was recorded in this run
        self._attempt: dict[str, tuple[str | None, int | None]] = {}  # per key: (node, start step)
        self._notes: dict[str, str] = {}  # per key: the restore note recorded in this run

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into Ray's experiment state: no engine, no live display.
        return {"db_url": self.db_url, "scheduler_stops_trials": self.scheduler_stops_trials,
                "progress": None, "_store": None, "_finished": set(), "_attempt": {},
                "_notes": {}}

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_url)
        return self._store

    # --- Ray Tune hooks -----------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        key = _key(trial)
        self.store.mark_running(key)
        self._notify(key, TrialStatus.RUNNING)

    def on_trial_restore(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._notify(_key(trial), TrialStatus.RUNNING)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        key = _key(trial)
        report = TrialReport.from_report(result)
        if report.restore_note is not None and self._notes.get(key) != report.restore_note:
            self._notes[key] = report.restore_note
            self.store.record_restore_note(key, report.restore_note)
            self._say(f"[yellow]checkpoint[/] {escape(key)}: {escape(report.restore_note)}")
        if isinstance(report.result, FinalResult):
            final = report.result
            status = TrialStatus(final.status)
            values = dataclasses.asdict(final)
            self.store.record_final(key, status=status, accuracy_by_length=final.accuracy_by_length,
                                    summary=values)
            self._finished.add(key)
            self._notify(key, status, result=values)
            return
        periodic = report.result
        attempt = (_node_label(result, report.node_id), periodic.attempt_start_step)
        if self._attempt.get(key) != attempt:
            self._attempt[key] = attempt
            self.store.mark_attempt(key, node=attempt[0], start_step=attempt[1])
        values = dataclasses.asdict(periodic)
        self.store.record_metrics(key, [values])
        self._notify(key, TrialStatus.RUNNING, result=values)

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        self.store.record_checkpoint(_key(trial), checkpoint.path)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        key = _key(trial)
        self._attempt.pop(key, None)
        self.store.record_retry(key, _error_text(trial))
        self._notify(key, TrialStatus.RUNNING, retry=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        key = _key(trial)
        if key in self._finished:
            return
        self.store.record_failure(key, _error_text(trial))
        self._notify(key, TrialStatus.FAILED)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # Ray reports completion before the trial's status flips, so rely on what we recorded:
        # a trial that ends without its final result was stopped by the scheduler (only a
        # scheduler such as ASHA does that; otherwise it stays 'running' and resumes on a rerun).
        key = _key(trial)
        if key not in self._finished and self.scheduler_stops_trials:
            self.store.record_final(key, status=TrialStatus.STOPPED, accuracy_by_length=None, summary={})
            self._notify(key, TrialStatus.STOPPED)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self.progress is not None:
            self.progress.refresh()

    def _say(self, line: str) -> None:
        """A line in the driver's output (the live progress's console; none without one)."""
        if self.progress is not None:
            self.progress.console.print(line)

    def _notify(self, key: str, status: TrialStatus, **details: Any) -> None:
        if self.progress is not None:
            self.progress.update(key, status, **details)


def _key(trial: Any) -> str:
    return trial.config["trial"]["key"]


def _node_label(result: dict, node_id: str | None) -> str | None:
    """'hostname (node 1a2b3c4d)': the host (from Ray's own result keys), and Ray's node id where several
    nodes share one host."""
    host = result.get("hostname") or result.get("node_ip")
    return f"{host} (node {node_id[:8]})" if host and node_id else host


def _error_text(trial: Any) -> str:
    """The last failure Ray wrote for this trial (its error file), or a generic line."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).exists():
        text = Path(path).read_text(errors="replace")
        last = text.rsplit("Failure # ", 1)[-1]
        return ("Failure # " + last).strip() if "Failure # " in text else text.strip()
    return "trial failed (no error file was written)"
