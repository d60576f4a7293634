"""Live progress of a running sweep in the terminal (rich): counts by status, best so far per model and
task, elapsed time and an ETA; one log line per finished trial (also when output is not a terminal).

Two accuracies, never mixed (both over the lengths beyond training): the *peak (periodic eval)*, the best
periodic evaluation so far (eval_samples strings per length, during training), and the *final*, the
evaluation a trial ends with (final_eval_samples strings per length): the number the report uses. A peak
can be well above the final value (98.0% against 90.7%, say)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sdssm.config import TrialConfig
from sdssm.sweep.store import ACTIVE_STATUSES, TrialStatus, distinct_task_labels

PEAK, FINAL = "peak (periodic eval)", "final"

_STYLE = {TrialStatus.SOLVED: "green", TrialStatus.FINISHED: "yellow", TrialStatus.DIVERGED: "magenta",
          TrialStatus.FAILED: "red", TrialStatus.STOPPED: "cyan", TrialStatus.RUNNING: "blue",
          TrialStatus.INTERRUPTED: "yellow", TrialStatus.PENDING: "dim"}


class SweepProgress:
    """Fed by the store callback on the driver; renders a small live panel."""

    def __init__(self, name: str, configs: list[TrialConfig], *, already_done: int, concurrency: int,
                 console: Console | None = None) -> None:
        self.name = name
        self.console = console or Console(emoji=False)
        self.configs = {c.key: c for c in configs}
        self.status: dict[str, TrialStatus] = {c.key: TrialStatus.PENDING for c in configs}
        tasks = distinct_task_labels((c.task, c.task_params) for c in configs)
        self.tasks = {c.key: task for c, task in zip(configs, tasks)}  # the report's name of each task instance
        shown = {c.model for c in configs if c.supervision != "last"}  # models with another supervision
        self.labels = {c.key: _row_label(c, self.tasks[c.key], c.model in shown) for c in configs}
        self.peak: dict[str, float] = {}  # row label -> best periodic evaluation so far (any trial)
        self.final: dict[str, float] = {}  # row label -> best final evaluation of a finished trial
        self.trial_peak: dict[str, float] = {}  # trial key -> its best periodic evaluation so far
        self.started: dict[str, float] = {}
        self.durations: list[float] = []
        self.already_done = already_done
        self.concurrency = max(1, concurrency)
        self.t0 = time.monotonic()
        self._live: Live | None = None
        self._last_refresh = 0.0

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> SweepProgress:
        self._live = Live(self.render(), console=self.console, refresh_per_second=2, transient=False,
                          auto_refresh=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.__exit__(*exc)
            self._live = None

    # --- events -------------------------------------------------------------------------------
    def update(self, key: str, status: TrialStatus | str, *, result: dict[str, Any] | None = None,
               retry: bool = False) -> None:
        if key not in self.status:
            return
        status = TrialStatus(status)
        previous = self.status[key]
        self.status[key] = status
        now = time.monotonic()
        if status == TrialStatus.RUNNING and previous == TrialStatus.PENDING:
            self.started[key] = now
        label = self.labels[key]
        accuracy = (result or {}).get("beyond_accuracy")
        if isinstance(accuracy, float) and accuracy == accuracy:
            if status == TrialStatus.RUNNING:  # a periodic evaluation
                self.peak[label] = max(self.peak.get(label, 0.0), accuracy)
                self.trial_peak[key] = max(self.trial_peak.get(key, 0.0), accuracy)
            else:  # the trial's final evaluation
                self.final[label] = max(self.final.get(label, 0.0), accuracy)
        if retry:
            self.console.print(f"[yellow]retrying[/] {escape(self._describe(key))} from its last checkpoint")
        if status not in ACTIVE_STATUSES and previous in ACTIVE_STATUSES:
            self.durations.append(now - self.started.get(key, now))
            summary = ""
            if result and result.get("beyond_accuracy") is not None:
                summary = f" {FINAL} {100 * result['beyond_accuracy']:.1f}% beyond training"
            if key in self.trial_peak:
                summary += f" ({PEAK} {100 * self.trial_peak[key]:.1f}%)"
            if result and result.get("steps"):
                summary += f" after {result['steps']} steps"
            self.console.print(f"[{_STYLE.get(status, 'white')}]{status:>8}[/] {escape(self._describe(key))}{summary}")
        self.refresh()

    def _describe(self, key: str) -> str:
        """The trial's description, plus the task instance's name where it is not the task's ('[D7]')."""
        config, task = self.configs[key], self.tasks[key]
        return config.describe() + (f" [{task}]" if task != config.task else "")

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._live is not None and (force or now - self._last_refresh > 0.5):
            self._last_refresh = now
            self._live.update(self.render(), refresh=True)

    # --- rendering ----------------------------------------------------------------------------
    def counts(self) -> Counter[TrialStatus]:
        return Counter(self.status.values())

    def eta_s(self) -> float | None:
        """Remaining trials x mean trial time / concurrency, once a trial has finished."""
        if not self.durations:
            return None
        counts = self.counts()
        remaining = sum(counts[status] for status in ACTIVE_STATUSES)
        mean = sum(self.durations) / len(self.durations)
        return remaining * mean / self.concurrency

    def render(self) -> Group:
        counts = self.counts()
        elapsed = time.monotonic() - self.t0
        eta = self.eta_s()
        head = Text.assemble(
            (f"sweep {self.name}", "bold"),
            f"  {len(self.status)} to run",
            f" ({self.already_done} already done)" if self.already_done else "",
            f"  elapsed {_clock(elapsed)}  ETA {_clock(eta) if eta is not None else '—'}")
        status_line = Text("  ").join(
            Text(f"{name} {counts[name]}", style=_STYLE[name])
            for name in TrialStatus
            if counts[name] or name in (TrialStatus.PENDING, TrialStatus.RUNNING))
        table = Table(title=None, show_edge=False, box=None, padding=(0, 2))
        table.add_column("best so far, beyond training lengths (model, task)")
        table.add_column(PEAK, justify="right")
        table.add_column(f"{FINAL} (finished trials)", justify="right")
        rows = sorted(set(self.peak) | set(self.final))
        for label in rows:
            table.add_row(escape(label), *(f"{100 * values[label]:.1f}%" if label in values else "—"
                                   for values in (self.peak, self.final)))
        return Group(head, status_line, table) if rows else Group(head, status_line)


def _row_label(config: TrialConfig, task: str, show_supervision: bool) -> str:
    """'sdssm/linear D4', with ' supervision=last' or '=prefixes' when the model's trials are not all 'last'."""
    label = f"{config.model}/{config.readout} {task}"
    return label + f" supervision={config.supervision}" if show_supervision else label


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
