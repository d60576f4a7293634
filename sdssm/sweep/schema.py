"""The store's tables (SQLAlchemy 2 declarative models); the status column holds sdssm/trial_status.py's enum.

Version 2 of the schema: trial statuses are TrialStatus values (the column holds the value string, so
SQLite and PostgreSQL read it alike), a trial may be 'interrupted', a trial has a `restore_note`, and the
`driver_leases` table holds one row per sweep whose driver is (or was) running.

Version 3 adds the `task_facts` table: each task instance's commutativity and number of classes, recorded
when its trials are registered, so `report` reads them without building the task (no torch import).
Migration: a writer (a store opened with create=True, as `run` opens it) upgrades a version-2 database in
place (the table is created and filled from the task registry; Store._upgrade); a reader (`report`,
`status`) reads a version-2 database as it is and takes the facts from the task registry instead. A
database of any other version is refused by the store (Store._check_or_create_schema) with a message
naming both versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON, Boolean, DateTime, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sdssm.trial_status import ACTIVE_STATUSES, DONE_STATUSES, TrialStatus  # noqa: F401 - re-exported

SCHEMA_VERSION = 3
READABLE_VERSIONS = (2, 3)  # 2: without task_facts (read as is; a writer upgrades it)


def _status_values(statuses: type[TrialStatus]) -> list[str]:
    return [status.value for status in statuses]


# A VARCHAR holding the value ('solved'), no native ENUM type and no CHECK constraint: a new status needs
# no migration of the column, and every backend reads it the same way.
STATUS_TYPE = Enum(TrialStatus, native_enum=False, create_constraint=False, length=20,
                   values_callable=_status_values, validate_strings=True, name="trial_status")


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "sdssm_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Sweep(Base):
    __tablename__ = "sweeps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    spec_path: Mapped[str] = mapped_column(Text, default="")
    spec_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set each time `run` registers the sweep (runner.plan), so it is when the sweep was last run: the
    # report's default sweep is the one with the latest (Store.sweeps_by_last_run).
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SweepTrial(Base):
    """Membership: a trial may belong to several sweeps (and is trained once)."""

    __tablename__ = "sweep_trials"
    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    trial_key: Mapped[str] = mapped_column(ForeignKey("trials.key", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Trial(Base):
    __tablename__ = "trials"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Denormalised config columns, for queries and reports (None where the model does not use them).
    task: Mapped[str] = mapped_column(String(100), index=True)
    task_label: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(50))
    readout: Mapped[str] = mapped_column(String(20))
    variant: Mapped[str] = mapped_column(String(100))  # e.g. "sdssm", "diagonal+B", "diagonal"
    seed: Mapped[int] = mapped_column(Integer)
    lr: Mapped[float] = mapped_column(Float)
    weight_decay: Mapped[float] = mapped_column(Float)
    k: Mapped[int | None] = mapped_column(Integer, nullable=True)
    p: Mapped[float | None] = mapped_column(Float, nullable=True)
    state_size: Mapped[int] = mapped_column(Integer)
    query_token: Mapped[bool] = mapped_column(Boolean)
    train_max_length: Mapped[int] = mapped_column(Integer)
    test_max_length: Mapped[int] = mapped_column(Integer)
    # Progress and outcome.
    status: Mapped[TrialStatus] = mapped_column(STATUS_TYPE, default=TrialStatus.PENDING, index=True)
    node: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wall_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    solved_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    solved_wall_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    in_range_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    beyond_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    checkpoint_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    resumed_from_step: Mapped[int | None] = mapped_column(Integer, nullable=True)  # where the last attempt began
    # How the last attempt restored its checkpoint (or why it could not), shown by `status`.
    restore_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Metric(Base):
    """One periodic evaluation of a trial."""

    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("trial_key", "step", name="uq_metric_trial_step"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_key: Mapped[str] = mapped_column(ForeignKey("trials.key", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    train_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    in_range_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    beyond_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    wall_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class LengthAccuracy(Base):
    """Accuracy at one test length in the final evaluation of a trial."""

    __tablename__ = "length_accuracies"
    trial_key: Mapped[str] = mapped_column(ForeignKey("trials.key", ondelete="CASCADE"), primary_key=True)
    length: Mapped[int] = mapped_column(Integer, primary_key=True)
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)


class DriverLeaseRow(Base):
    """The live driver of a sweep: at most one row per sweep name (the primary key), so two drivers that
    race for it cannot both insert; `token` changes hands on every takeover, so a holder whose row was
    taken over finds out at its next heartbeat."""

    __tablename__ = "driver_leases"
    sweep: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskFact(Base):
    """What the analysis needs to know of one task instance (task + parameters), recorded when its trials
    are registered. `params_digest` is a hash of the canonical JSON of the parameters (an automaton's may be
    long: too long for an index), `params` that JSON. None: the registry could not say."""

    __tablename__ = "task_facts"
    task: Mapped[str] = mapped_column(String(100), primary_key=True)
    params_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    params: Mapped[str] = mapped_column(Text)
    commutative: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    num_classes: Mapped[int | None] = mapped_column(Integer, nullable=True)
