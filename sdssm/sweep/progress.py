"""Live progress of a running sweep: counts by status, one line per running trial, best so far per model and
task, elapsed time and an ETA; one log line per finished trial.

On a terminal it is a rich live panel. When output is not a terminal (a log file under nohup) there is no
panel: every `interval_s` seconds a block of plain lines (no ANSI) gives the counts and the ETA, and one
line per running trial, each line starting '[elapsed]' so `grep` and `tail -f` read it.

Two accuracies, never mixed (both over the lengths beyond training): the *peak*, the best periodic
evaluation so far (eval_samples strings per length, during training), and the *final*, the evaluation a
trial ends with (final_eval_samples strings per length): the number the report uses. A peak can be well
above the final value (98.0% against 90.7%, say). A running trial shows *now* (its latest periodic
evaluation) and its *peak*; a finished trial shows its *final* (and its peak beside it, labelled).

ETA (`eta`): steps left / step rate, from what this run has observed; '—' only until a trial reports a step.
  - steps left: f x the sum over unfinished trials of (max_steps - step); pending trials count max_steps.
  - f accounts for early stopping (solved trials stop before max_steps): the mean fraction of max_steps
    that the trials finished in this run used. Before any has finished f = 1 and the ETA is an upper
    bound, shown as 'ETA ≤'; afterwards it is an estimate, shown as 'ETA ≈'.
  - step rate: the mean of the trials' observed rates (steps since their attempt began / time since),
    times the trials that run at once (the concurrency, or fewer when fewer are left). The ETA is never
    below the time the slowest running trial needs for its own f x (max_steps - step).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sdssm.config import TrialConfig
from sdssm.sweep.store import ACTIVE_STATUSES, TrialStatus, distinct_task_labels

PEAK, FINAL, NOW = "peak (periodic eval)", "final", "now"
DEFAULT_INTERVAL_S = 30.0  # plain progress lines when output is not a terminal: one block this often

_STYLE = {TrialStatus.SOLVED: "green", TrialStatus.FINISHED: "yellow", TrialStatus.DIVERGED: "magenta",
          TrialStatus.FAILED: "red", TrialStatus.STOPPED: "cyan", TrialStatus.RUNNING: "blue",
          TrialStatus.INTERRUPTED: "yellow", TrialStatus.PENDING: "dim"}


@dataclass
class _Running:
    """What the driver has seen of one trial's current attempt."""

    started: float  # clock time the attempt started
    start_step: int = 0  # the step it started from (> 0 after a restore)
    step: int | None = None  # latest reported step
    reported: float | None = None  # clock time of that report
    now: float | None = None  # latest periodic beyond-training accuracy
    peak: float | None = None  # best periodic beyond-training accuracy so far

    def rate(self) -> float | None:
        """Observed steps per second of this attempt."""
        if self.step is None or self.reported is None or self.reported <= self.started:
            return None
        return max(self.step - self.start_step, 0) / (self.reported - self.started)


@dataclass(frozen=True)
class Eta:
    seconds: float
    upper_bound: bool  # True: no trial has finished yet, every remaining trial counted at its full budget
    fraction: float  # f: the share of the remaining step budget expected to be used

    def text(self) -> str:
        if self.upper_bound:
            return f"ETA ≤ {_clock(self.seconds)} (if no trial stops early)"
        return f"ETA ≈ {_clock(self.seconds)} (finished trials used {100 * self.fraction:.0f}% of their steps)"


class SweepProgress:
    """Fed by the store callback on the driver (`update` per event, `refresh` on every Tune step); renders
    a live panel on a terminal, plain lines every `interval_s` otherwise. `clock` is injectable for tests."""

    def __init__(self, name: str, configs: list[TrialConfig], *, already_done: int, concurrency: int,
                 console: Console | None = None, interval_s: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.console = console or Console(emoji=False)
        self.configs: dict[str, TrialConfig] = {}
        self.status: dict[str, TrialStatus] = {}
        self.tasks: dict[str, str] = {}  # the report's name of each task instance
        self.labels: dict[str, str] = {}
        self.add(configs)
        self.peak: dict[str, float] = {}  # row label -> best periodic evaluation so far (any trial)
        self.final: dict[str, float] = {}  # row label -> best final evaluation of a finished trial
        self.trial_peak: dict[str, float] = {}  # trial key -> its best periodic evaluation so far
        self.running: dict[str, _Running] = {}  # trial key -> its current attempt
        self.rates: dict[str, float] = {}  # trial key -> its last observed step rate (kept after it ends)
        self.used: list[float] = []  # per trial finished in this run: steps / max_steps
        self.already_done = already_done
        self.concurrency = max(1, concurrency)
        self.interval_s = interval_s
        self.clock = clock
        self.t0 = clock()
        self._live: Live | None = None
        self._short: tuple[int, dict[str, str], list[str]] | None = None  # (trials, short descriptions, shared)
        self._last_refresh = float("-inf")
        self._last_plain = self.t0

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> SweepProgress:
        if self.console.is_terminal:
            self._live = Live(self.render(), console=self.console, refresh_per_second=2, transient=False,
                              auto_refresh=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.__exit__(*exc)
            self._live = None
        else:
            self.print_plain()

    # --- events -------------------------------------------------------------------------------
    def add(self, configs: list[TrialConfig]) -> None:
        """Trials to show, pending (a TPE search adds each proposal's trials while the sweep runs)."""
        for config in configs:
            self.configs.setdefault(config.key, config)
            self.status.setdefault(config.key, TrialStatus.PENDING)
        every = list(self.configs.values())
        tasks = distinct_task_labels((c.task, c.task_params) for c in every)
        self.tasks = {c.key: task for c, task in zip(every, tasks)}
        shown = {c.model for c in every if c.supervision != "last"}  # models with another supervision
        self.labels = {c.key: _row_label(c, self.tasks[c.key], c.model in shown) for c in every}

    def update(self, key: str, status: TrialStatus | str, *, result: dict[str, Any] | None = None,
               retry: bool = False) -> None:
        if key not in self.status:
            return
        status = TrialStatus(status)
        previous = self.status[key]
        self.status[key] = status
        now = self.clock()
        if status == TrialStatus.RUNNING and (key not in self.running or retry):
            self.running[key] = _Running(started=now)
        label = self.labels[key]
        result = result or {}
        accuracy = result.get("beyond_accuracy")
        has_accuracy = isinstance(accuracy, float) and accuracy == accuracy
        if status == TrialStatus.RUNNING and key in self.running:  # a periodic evaluation, or none
            attempt = self.running[key]
            if isinstance(result.get("step"), int):
                if result.get("attempt_start_step") is not None:
                    attempt.start_step = int(result["attempt_start_step"])
                attempt.step, attempt.reported = int(result["step"]), now
                rate = attempt.rate()
                if rate is None and (result.get("wall_time_s") or 0) > 0:  # no driver time has passed yet
                    rate = result["step"] / result["wall_time_s"]  # the trainer's own clock
                if rate is not None:
                    self.rates[key] = rate
            if has_accuracy:
                attempt.now = accuracy
                attempt.peak = max(attempt.peak or 0.0, accuracy)
                self.peak[label] = max(self.peak.get(label, 0.0), accuracy)
                self.trial_peak[key] = max(self.trial_peak.get(key, 0.0), accuracy)
        elif has_accuracy:  # the trial's final evaluation
            self.final[label] = max(self.final.get(label, 0.0), accuracy)
        if retry:
            self.console.print(f"[yellow]retrying[/] {escape(self._describe(key))} from its last checkpoint")
        if status not in ACTIVE_STATUSES and previous in ACTIVE_STATUSES:
            self.running.pop(key, None)
            steps = result.get("steps")
            if isinstance(steps, int) and status != TrialStatus.FAILED:
                self.used.append(min(1.0, steps / max(1, self.configs[key].max_steps)))
            summary = ""
            if result.get("beyond_accuracy") is not None:
                summary = f" {FINAL} {100 * result['beyond_accuracy']:.1f}% beyond training"
            if key in self.trial_peak:
                summary += f" ({PEAK} {100 * self.trial_peak[key]:.1f}%)"
            if steps:
                summary += f" after {steps} steps"
            self.console.print(f"[{_STYLE.get(status, 'white')}]{status:>8}[/] {escape(self._describe(key))}{summary}")
        self.refresh()

    def _describe(self, key: str) -> str:
        """The trial's description, plus the task instance's name where it is not the task's ('[D7]')."""
        config, task = self.configs[key], self.tasks[key]
        return config.describe() + (f" [{task}]" if task != config.task else "")

    def refresh(self, force: bool = False) -> None:
        """Redraw the live panel (at most twice a second), or print the plain lines when `interval_s` passed."""
        now = self.clock()
        if self._live is not None:
            if force or now - self._last_refresh > 0.5:
                self._last_refresh = now
                self._live.update(self.render(), refresh=True)
        elif force or now - self._last_plain >= self.interval_s:
            self.print_plain()

    # --- what it shows --------------------------------------------------------------------------
    def counts(self) -> Counter[TrialStatus]:
        return Counter(self.status.values())

    def eta(self) -> Eta | None:
        """The module docstring's rule; None until some trial has reported a step."""
        if not self.rates:
            return None
        fraction = sum(self.used) / len(self.used) if self.used else 1.0
        left = {key: fraction * max(self.configs[key].max_steps - self._step(key), 0)
                for key, status in self.status.items() if status in ACTIVE_STATUSES}
        mean_rate = sum(self.rates.values()) / len(self.rates)
        slots = max(1, min(self.concurrency, len(left)))
        seconds = sum(left.values()) / (mean_rate * slots)
        for key, attempt in self.running.items():  # the slowest running trial cannot be overtaken
            rate = self.rates.get(key) or mean_rate
            seconds = max(seconds, left.get(key, 0.0) / rate)
        return Eta(seconds, upper_bound=not self.used, fraction=fraction)

    def _step(self, key: str) -> int:
        """The latest step a trial reported in this run (0 for one that has not)."""
        attempt = self.running.get(key)
        return attempt.step or 0 if attempt is not None else 0

    def eta_s(self) -> float | None:
        eta = self.eta()
        return eta.seconds if eta is not None else None

    def _head(self) -> str:
        counts = self.counts()
        eta = self.eta()
        done = f" ({self.already_done} already done)" if self.already_done else ""
        shown = [name for name in TrialStatus if counts[name] or name in (TrialStatus.PENDING, TrialStatus.RUNNING)]
        return (f"sweep {self.name}: {len(self.status)} to run{done}; "
                + ", ".join(f"{name} {counts[name]}" for name in shown)
                + f"; elapsed {_clock(self.clock() - self.t0)}; " + (eta.text() if eta else "ETA —"))

    def _trial_cells(self, key: str) -> tuple[str, str, str, str, str]:
        """(description, 'step s/max', now, peak, elapsed) of a running trial."""
        attempt = self.running[key]
        step = f"{attempt.step if attempt.step is not None else 0}/{self.configs[key].max_steps}"
        return (self._describe(key), step, _pct(attempt.now), _pct(attempt.peak),
                _clock(self.clock() - attempt.started))

    def _short_descriptions(self) -> tuple[dict[str, str], list[str]]:
        """Per trial its description without the words every trial of the sweep shares (model/readout and
        task stay), so a running trial fits one line of the panel; and those shared words, said once."""
        if self._short is None or self._short[0] != len(self.configs):
            words = {key: self._describe(key).split(" ") for key in self.configs}
            common = [w for w in next(iter(words.values()), [])[2:] if all(w in ws[2:] for ws in words.values())]
            short = {key: " ".join(ws[:2] + [w for w in ws[2:] if w not in common]) for key, ws in words.items()}
            self._short = (len(self.configs), short, common)
        return self._short[1], self._short[2]

    def plain_lines(self) -> list[str]:
        """The plain-text progress: the head line, then one line per running trial."""
        stamp = f"[{_clock(self.clock() - self.t0)}]"
        lines = [f"{stamp} {self._head()}"]
        for key in sorted(self.running, key=lambda k: self._describe(k)):
            describe, step, now, peak, elapsed = self._trial_cells(key)
            lines.append(f"{stamp}   running {describe}: step {step}, beyond training {NOW} {now}, "
                         f"peak {peak}, for {elapsed}")
        return lines

    def print_plain(self) -> None:
        self._last_plain = self.clock()
        for line in self.plain_lines():
            self.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)  # never broken

    def render(self) -> Group:
        counts = self.counts()
        eta = self.eta()
        head = Text.assemble(
            (f"sweep {self.name}", "bold"),
            f"  {len(self.status)} to run",
            f" ({self.already_done} already done)" if self.already_done else "",
            f"  elapsed {_clock(self.clock() - self.t0)}")
        status_line = Text("  ").join(
            Text(f"{name} {counts[name]}", style=_STYLE[name])
            for name in TrialStatus
            if counts[name] or name in (TrialStatus.PENDING, TrialStatus.RUNNING))
        parts: list[Any] = [head, status_line, Text(eta.text() if eta else "ETA — (until a trial reports a step)")]
        if self.running:
            short, common = self._short_descriptions()
            trials = Table(show_edge=False, box=None, padding=(0, 1), pad_edge=False,
                           caption="now, peak: beyond training lengths, periodic eval", caption_justify="left")
            trials.add_column("running trial", overflow="fold", ratio=1)
            for column in ("step", NOW, "peak", "time"):
                trials.add_column(column, justify="right", no_wrap=True)
            for key in sorted(self.running, key=lambda k: self._describe(k)):
                trials.add_row(*map(escape, (short[key], *self._trial_cells(key)[1:])))
            parts.append(trials)
            if common:
                parts.append(Text(f"every trial: {' '.join(common)}"))
        rows = sorted(set(self.peak) | set(self.final))
        if rows:
            table = Table(show_edge=False, box=None, padding=(0, 2), pad_edge=False,
                          caption="beyond training lengths", caption_justify="left")
            table.add_column("best so far (model, task)", overflow="fold")
            table.add_column(PEAK, justify="right")
            table.add_column(f"{FINAL} (finished trials)", justify="right")
            for label in rows:
                table.add_row(escape(label), *(f"{100 * values[label]:.1f}%" if label in values else "—"
                                       for values in (self.peak, self.final)))
            parts.append(table)
        return Group(*parts)


def _row_label(config: TrialConfig, task: str, show_supervision: bool) -> str:
    """'sdssm/linear D4', with ' supervision=last' or '=prefixes' when the model's trials are not all 'last'."""
    label = f"{config.model}/{config.readout} {task}"
    return label + f" supervision={config.supervision}" if show_supervision else label


def _pct(value: float | None) -> str:
    return f"{100 * value:.1f}%" if value is not None else "—"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
