"""A trial's results: one typed record per kind, and the one rule for numbers that are not finite.

The trainer produces a `PeriodicResult` at every periodic evaluation and one `FinalResult` when the trial
ends. A record travels to the Ray driver as a flat dict of plain values: `to_report()` writes it,
`from_report()` reads it back (`parse_report()` picks the kind by the dict's "final" flag). Checkpoints
hold the same dicts, so `torch.load(..., weights_only=True)` reads them.

The non-finite rule, `finite_or_none`, applied wherever a result number crosses a boundary: a NaN or
±inf number carries no value. NaN arises as the mean over no labelled length (a task whose longer
prefixes all lack labels) and as the loss of a diverged model; ±inf as a diverged loss. Such a number is
  - None in a record: the records apply the rule when built, so no record ever holds NaN or inf;
  - absent from a report: Ray's ASHA scheduler skips a result without its metric but fails on None
    (inside `accuracy_by_length`, a per-length list, it is null);
  - NULL in the store (sdssm.sweep.store applies the same function).

No Ray, no SQL in here (DESIGN.md: sdssm/ below the sweep layer imports neither).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sdssm.trial_status import TRAINING_OUTCOMES, TrialStatus


def finite_or_none(value: float | None) -> float | None:
    """The non-finite rule: `value` as a float when it is a finite number, else None (NaN, ±inf, None)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class PeriodicResult:
    """One periodic evaluation: the training window since the last one, and accuracy on fresh strings."""

    step: int
    loss: float | None  # mean training loss over the window
    train_accuracy: float | None  # mean accuracy of the whole strings trained on in the window
    in_range_accuracy: float | None  # mean over labelled lengths 1..train_max_length
    beyond_accuracy: float | None  # mean over labelled lengths train_max_length+1..test_max_length
    wall_time_s: float  # training time so far, carried across restores
    attempt_start_step: int  # the step this attempt started from (> 0 after a restore)

    FINAL: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _apply_rule(self, ("loss", "train_accuracy", "in_range_accuracy", "beyond_accuracy"))

    def to_report(self) -> dict[str, Any]:
        """This record as a Ray result (and checkpoint entry): plain values, numbers without a value left out."""
        return _report(self)

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> PeriodicResult:
        """The record `to_report` wrote (extra keys, such as Ray's own, are ignored)."""
        return _from_report(cls, report)


@dataclass(frozen=True)
class FinalResult:
    """How a trial ended: status, counters and the final evaluation (None throughout when the model's
    parameters were not finite, so no accuracy is claimed)."""

    status: TrialStatus  # one of TRAINING_OUTCOMES: solved | finished | diverged
    steps: int
    wall_time_s: float
    solved_step: int | None  # the step of the evaluation that completed the solved streak
    solved_wall_time_s: float | None
    in_range_accuracy: float | None
    beyond_accuracy: float | None
    accuracy_by_length: list[float | None] | None  # index 0 is length 1; None where no prefix has a label

    FINAL: ClassVar[bool] = True

    def __post_init__(self) -> None:
        status = TrialStatus(self.status)  # a plain string from a report or a checkpoint becomes the enum
        if status not in TRAINING_OUTCOMES:
            raise ValueError(f"a trial ends {', '.join(TRAINING_OUTCOMES)}, not {status}")
        object.__setattr__(self, "status", status)
        _apply_rule(self, ("solved_wall_time_s", "in_range_accuracy", "beyond_accuracy"))
        if self.accuracy_by_length is not None:
            object.__setattr__(self, "accuracy_by_length", [finite_or_none(a) for a in self.accuracy_by_length])

    @property
    def step(self) -> int:
        return self.steps

    def to_report(self) -> dict[str, Any]:
        """This record as a Ray result (and checkpoint entry): plain values, numbers without a value left out."""
        return _report(self)

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> FinalResult:
        """The record `to_report` wrote (extra keys, such as Ray's own, are ignored)."""
        return _from_report(cls, report)


Result = PeriodicResult | FinalResult


def parse_report(report: Mapping[str, Any]) -> Result:
    """A `FinalResult` where the report's "final" flag is true, else a `PeriodicResult`."""
    return (FinalResult if report.get("final") else PeriodicResult).from_report(report)


def _apply_rule(record: Any, names: Sequence[str]) -> None:
    for name in names:
        object.__setattr__(record, name, finite_or_none(getattr(record, name)))


def _report(record: Any) -> dict[str, Any]:
    # Plain values only: a checkpoint holding these is loaded with weights_only=True, which refuses any
    # class (the status enum too), so the status travels as its string.
    values = {name: value.value if isinstance(value, TrialStatus) else value
              for name, value in dataclasses.asdict(record).items() if value is not None}
    # "step" and "final" let Ray's loggers and `parse_report` read every report alike.
    return {**values, "step": record.step, "final": record.FINAL}


def _from_report(cls: Any, report: Mapping[str, Any]) -> Any:
    if bool(report.get("final")) != cls.FINAL:
        raise ValueError(f"not a {cls.__name__} report: final is {report.get('final')!r}")
    fields = {f.name: report.get(f.name) for f in dataclasses.fields(cls)}
    missing = [name for name, value in fields.items() if value is None and name in _REQUIRED[cls.__name__]]
    if missing:
        raise ValueError(f"{cls.__name__} report lacks {', '.join(missing)}")
    if fields.get("accuracy_by_length") is not None:
        fields["accuracy_by_length"] = list(fields["accuracy_by_length"])
    return cls(**fields)


_REQUIRED = {"PeriodicResult": ("step", "wall_time_s", "attempt_start_step"),
             "FinalResult": ("status", "steps", "wall_time_s")}
