"""A trial's status: the one enum the trainer, the sweep layer, the store's column and the reports use.

No torch, Ray or SQL here, so the trainer (sdssm/train.py, which may not import the store) reports its
outcome in the same vocabulary the store records (sdssm/sweep/schema.py maps the enum to a column).
"""

from __future__ import annotations

import enum


class TrialStatus(str, enum.Enum):
    """A trial's state. Members compare equal to (and hash as) their value strings, and print as them:
    f"{TrialStatus.SOLVED}" == "solved"."""

    PENDING = "pending"  # registered, not started
    RUNNING = "running"  # an attempt is under way (or its driver died without saying so)
    INTERRUPTED = "interrupted"  # its driver stopped (Ctrl-C, SIGTERM) mid-trial; resumes on a rerun
    SOLVED = "solved"  # reached the solve criterion
    FINISHED = "finished"  # ran all its steps without solving
    DIVERGED = "diverged"  # the loss became NaN/inf
    STOPPED = "stopped"  # stopped early by the scheduler (ASHA)
    FAILED = "failed"  # every attempt raised; its error is recorded

    def __str__(self) -> str:
        return self.value


# Never trained again by a rerun of a sweep. Every other status (pending, running, interrupted, failed)
# is trained by a rerun.
DONE_STATUSES: frozenset[TrialStatus] = frozenset(
    {TrialStatus.SOLVED, TrialStatus.FINISHED, TrialStatus.DIVERGED, TrialStatus.STOPPED})
# Not done and not failed: work still to come (a report calls such cells incomplete).
ACTIVE_STATUSES: frozenset[TrialStatus] = frozenset(
    {TrialStatus.PENDING, TrialStatus.RUNNING, TrialStatus.INTERRUPTED})
# How a training run itself ends (sdssm.train.Trainer.run): the statuses a trainer can report.
TRAINING_OUTCOMES: tuple[TrialStatus, ...] = (TrialStatus.SOLVED, TrialStatus.FINISHED, TrialStatus.DIVERGED)
