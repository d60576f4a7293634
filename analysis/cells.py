"""How a group of trials (a table cell) becomes numbers, and how those numbers are written.

Aggregation used by every table (documented in the report):
- result trials: status solved/finished/diverged/stopped with a recorded accuracy (a diverged trial counts
  with the accuracy it recorded); pending/running/failed trials are counted, never averaged;
- best: the highest accuracy over all result trials of the cell (seeds and hyperparameters);
- mean ± std (n): over seeds, of each seed's best trial (best over the cell's other hyperparameters);
  std is the sample standard deviation (ddof = 1), absent with a single seed;
- state: 'ok' when the cell has a result; otherwise 'running' (some trial pending or running), 'failed'
  (every trial failed), 'no result' (finished without an accuracy), or '—' (no trial at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

OK, RUNNING, FAILED, NO_RESULT, EMPTY = "ok", "running", "failed", "no result", "—"
PARTIAL_MARK = "*"  # a cell with a result while some of its trials are still pending/running


@dataclass(frozen=True)
class Summary:
    """One cell: counts, the best trial, the per-seed best trials (all by `metric`)."""

    metric: str
    n_trials: int
    n_results: int
    n_active: int
    n_failed: int
    best: pd.Series | None  # the best result trial's row
    per_seed: pd.DataFrame  # one row per seed: that seed's best result trial

    @property
    def state(self) -> str:
        if self.n_results:
            return OK
        if self.n_active:
            return RUNNING
        if self.n_trials and self.n_failed == self.n_trials:
            return FAILED
        return NO_RESULT if self.n_trials else EMPTY

    @property
    def partial(self) -> bool:
        return self.n_results > 0 and self.n_active > 0

    @property
    def n_seeds(self) -> int:
        return len(self.per_seed)

    def best_of(self, column: str | None = None) -> float:
        """The best trial's value of `column` (default: the metric); NaN without a result."""
        if self.best is None:
            return math.nan
        value = self.best[column or self.metric]
        return float(value) if pd.notna(value) else math.nan

    def mean(self, column: str | None = None) -> float:
        """Mean over seeds of `column` (default: the metric) of each seed's best trial."""
        values = self.per_seed[column or self.metric].dropna()
        return float(values.mean()) if len(values) else math.nan

    def std(self, column: str | None = None) -> float:
        values = self.per_seed[column or self.metric].dropna()
        return float(values.std(ddof=1)) if len(values) > 1 else math.nan

    def counts(self) -> str:
        """'results/trials', plus unfinished and failed counts when there are any:
        '2/4 (1 pending/running, 1 failed)'."""
        extra = [f"{n} {what}" for n, what in ((self.n_active, "pending/running"), (self.n_failed, "failed"))
                 if n]
        return f"{self.n_results}/{self.n_trials}" + (f" ({', '.join(extra)})" if extra else "")


def summarize(trials: pd.DataFrame, metric: str = "beyond_pct") -> Summary:
    """Summarise the trials of one cell (any subset of ReportData.trials) by `metric`."""
    results = trials[trials["has_result"] & trials[metric].notna()]
    if results.empty:
        best, per_seed = None, results
    else:
        best = results.loc[results[metric].idxmax()]  # ties: the first in report order
        per_seed = results.loc[results.groupby("seed", sort=True)[metric].idxmax()]
    return Summary(metric=metric, n_trials=len(trials), n_results=len(results),
                   n_active=int(trials["active"].sum()), n_failed=int(trials["failed"].sum()),
                   best=best, per_seed=per_seed)


# --- text ---------------------------------------------------------------------------------------
def pct(value: float, signed: bool = False) -> str:
    """A percentage with one decimal ('99.9', '+1.2' or '-0.3' when signed); '—' for NaN. A value that
    rounds to zero reads '0.0', never '-0.0' or '+0.0': at this precision it has no sign."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    if round(value, 1) == 0:
        return "0.0"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def mean_std(summary: Summary, column: str | None = None) -> str:
    """'97.3 ± 2.1 (n=3)'; '97.3 (n=1)' with one seed; the state without a result."""
    if summary.state != OK:
        return summary.state
    mean, std = summary.mean(column), summary.std(column)
    spread = "" if math.isnan(std) else f" ± {std:.1f}"
    return f"{pct(mean)}{spread} (n={summary.n_seeds})"


def cell_text(summary: Summary, column: str | None = None) -> str:
    """Table 1 cell: 'best (mean ± std, n=seeds)', '*' when partial; the state without a result."""
    if summary.state != OK:
        return summary.state
    mean, std = summary.mean(column), summary.std(column)
    spread = "" if math.isnan(std) else f" ± {std:.1f}"
    mark = PARTIAL_MARK if summary.partial else ""
    return f"{pct(summary.best_of(column))}{mark} ({pct(mean)}{spread}, n={summary.n_seeds})"

