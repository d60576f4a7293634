"""Live progress of a running sweep in the terminal (rich): counts by status, best so far per task,
elapsed time and an ETA; one log line per finished trial (also when output is not a terminal)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sdssm.config import TrialConfig

_STYLE = {"solved": "green", "finished": "yellow", "diverged": "magenta", "failed": "red",
          "stopped": "cyan", "running": "blue", "pending": "dim", "done": "dim"}


class SweepProgress:
    """Fed by the store callback on the driver; renders a small live panel."""

    def __init__(self, name: str, configs: list[TrialConfig], *, already_done: int, concurrency: int,
                 console: Console | None = None) -> None:
        self.name = name
        self.console = console or Console()
        self.configs = {c.key: c for c in configs}
        self.status: dict[str, str] = {c.key: "pending" for c in configs}
        self.best: dict[str, float] = {}
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
    def update(self, key: str, status: str, *, result: dict[str, Any] | None = None, retry: bool = False) -> None:
        if key not in self.status:
            return
        previous = self.status[key]
        self.status[key] = status
        now = time.monotonic()
        if status == "running" and previous == "pending":
            self.started[key] = now
        config = self.configs[key]
        accuracy = (result or {}).get("beyond_accuracy")
        if isinstance(accuracy, float) and accuracy == accuracy:
            label = f"{config.model}/{config.readout} {config.task}"
            self.best[label] = max(self.best.get(label, 0.0), accuracy)
        if retry:
            self.console.print(f"[yellow]retrying[/] {config.describe()} from its last checkpoint")
        if status not in ("running", "pending") and previous in ("running", "pending"):
            self.durations.append(now - self.started.get(key, now))
            summary = ""
            if result and result.get("beyond_accuracy") is not None:
                summary = f" beyond-training accuracy {100 * result['beyond_accuracy']:.1f}%"
            if result and result.get("steps"):
                summary += f" after {result['steps']} steps"
            self.console.print(f"[{_STYLE.get(status, 'white')}]{status:>8}[/] {config.describe()}{summary}")
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._live is not None and (force or now - self._last_refresh > 0.5):
            self._last_refresh = now
            self._live.update(self.render(), refresh=True)

    # --- rendering ----------------------------------------------------------------------------
    def counts(self) -> Counter[str]:
        return Counter(self.status.values())

    def eta_s(self) -> float | None:
        """Remaining trials x mean trial time / concurrency, once a trial has finished."""
        if not self.durations:
            return None
        counts = self.counts()
        remaining = counts["pending"] + counts["running"]
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
            for name in ("pending", "running", "solved", "finished", "diverged", "stopped", "failed")
            if counts[name] or name in ("pending", "running"))
        table = Table(title=None, show_edge=False, box=None, padding=(0, 2))
        table.add_column("best so far (model, task)")
        table.add_column("accuracy beyond training lengths", justify="right")
        for label in sorted(self.best):
            table.add_row(label, f"{100 * self.best[label]:.1f}%")
        return Group(head, status_line, table) if self.best else Group(head, status_line)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
