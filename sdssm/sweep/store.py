"""The results store: SQLAlchemy 2 ORM over SQLite (default) or any other SQLAlchemy URL.

Contract (DESIGN.md):
- The sweep driver is the only writer; readers (`status`, `report`) may read at any time. SQLite runs
  in WAL mode with a busy timeout, so readers never see "database is locked".
- Writes are idempotent upserts: a trial row per trial key, a metric row per (trial key, step), a
  length-accuracy row per (trial key, length). A resumed trial that reports a step again overwrites it.
- The schema version lives in the `meta` table; a database without it is not ours and is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, delete, event, func, inspect, or_, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sdssm.config import TrialConfig
from sdssm.models.registry import variant_of as registry_variant_of
from sdssm.results import finite_or_none  # the one non-finite rule
from sdssm.sweep.schema import (
    ACTIVE_STATUSES, DONE_STATUSES, READABLE_VERSIONS, SCHEMA_VERSION, Base, DriverLeaseRow, LengthAccuracy, Meta,
    Metric, Sweep, SweepTrial, TaskFact, Trial, TrialStatus,
)

__all__ = [
    "ACTIVE_STATUSES", "DEFAULT_DB_URL", "DONE_STATUSES", "SCHEMA_VERSION", "DriverLease", "LeaseHeldError",
    "Store", "StoreError", "Trial", "TrialStatus", "distinct_task_labels", "mask_url", "normalize_url",
    "task_label", "task_label_of", "variant_of",
]

DEFAULT_DB_URL = "sqlite:///results/sdssm.db"


class StoreError(Exception):
    """The database cannot be used (bad URL, not ours, newer schema, unreadable file)."""


class LeaseHeldError(StoreError):
    """Another driver holds the sweep's lease (or took it over from this one); the message names it."""


@dataclass(frozen=True)
class DriverLease:
    """The right of one driver process to run one sweep on one database (Store.acquire_lease).

    took_over_from describes the holder whose stale lease this one replaced, None for a fresh lease."""

    sweep: str
    host: str
    pid: int
    token: str
    since: datetime
    heartbeat_at: datetime
    took_over_from: str | None = None

    def describe(self) -> str:
        """'host box1, pid 4242, running since 2026-12-02T16:30:00Z'"""
        return f"host {self.host}, pid {self.pid}, running since {_iso(self.since)}"


def now() -> datetime:
    return datetime.now(timezone.utc)


def variant_of(config: TrialConfig) -> str:
    """The model row label used by reports (readout apart): the registry's (sdssm/models/registry.py),
    e.g. sdssm, diagonal+B, diagonal, rnn, lstm, pdssm, gated[0,1], gated[-1,1]."""
    return registry_variant_of(config)


# Task labels: one label per task instance (a task and its parameters), the name the task gives itself
# (Task.name). Found without building the task (so without importing torch) where the name is known:
# a task without parameters is named as registered ('parity_check', 'D4'); Dn with n=7 is 'D7' and C2xCn
# with n=30 'C2xC30' (tasks/catalog.py); a user automaton has its spec's `name`. tests/analysis holds these
# to the registry. Any other parametrised task is built once (cached) to ask it.
_NAMED_BY_N = {"Dn": "D{n}", "C2xCn": "C2xC{n}"}


def task_label(task: str, params: Mapping[str, Any] | None = None) -> str:
    """The name of one task instance, as the task names itself: 'parity_check', 'D7' (Dn, n=7), 'C2xC30',
    a user automaton's `name` ('automaton' without one; the file's stem when given by path). Where the
    task cannot be built (unknown here, bad parameters): 'task(a=1,b=2)'. Not unique: a task may ignore a
    parameter in its name; distinct_task_labels tells instances apart."""
    params = dict(params or {})
    if not params:
        return task
    if task == "automaton":
        spec = params.get("spec")
        if isinstance(spec, Mapping) and spec.get("name") not in (None, ""):
            return str(spec["name"])
        if params.get("path"):
            return Path(str(params["path"])).stem
        return task
    n = params.get("n")
    if task in _NAMED_BY_N and set(params) == {"n"} and isinstance(n, int) and not isinstance(n, bool):
        return _NAMED_BY_N[task].format(n=n)
    return _registry_name(task, _canonical(params)) or task + _params_text(params)


@functools.lru_cache(maxsize=256)
def _registry_name(task: str, params_json: str) -> str | None:
    try:
        import tasks  # noqa: PLC0415 - torch; only for parametrised tasks the rules above do not name

        name = tasks.get(task, **json.loads(params_json)).name
    except Exception:  # noqa: BLE001 - unknown task, refused parameters, a registry being edited
        return None
    return str(name) if name else None


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _params_text(params: Mapping[str, Any]) -> str:
    return "(" + ",".join(f"{k}={'...' if isinstance(v, (dict, list)) else v}" for k, v in sorted(params.items())) + ")"


def distinct_task_labels(instances: Iterable[tuple[str, Mapping[str, Any] | None]]) -> list[str]:
    """task_label of each (task, params), unique per task instance (task and parameters), so a table never
    pools two instances into one column. Instances that share a name are told apart by their parameters,
    'flip_flop [p_write=0.3]', 'D4 [Dn n=4]' (D4 registered as such keeps 'D4'), or, for mapping-valued
    parameters (automata), by a short hash of them: 'automaton [3f2a9c]'."""
    pairs = [(task, dict(params or {})) for task, params in instances]
    labels = [task_label(task, params) for task, params in pairs]
    identities = [task + _canonical(params) for task, params in pairs]
    owners: dict[str, set[str]] = {}
    for label, identity in zip(labels, identities):
        owners.setdefault(label, set()).add(identity)
    out = []
    for label, identity, (task, params) in zip(labels, identities, pairs):
        if len(owners[label]) > 1 and (params or task != label):
            if any(isinstance(v, (dict, list)) for v in params.values()):
                label += f" [{_digest(identity)}]"
            else:
                where = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
                label += f" [{' '.join(part for part in (task if task != label else '', where) if part)}]"
        out.append(label)
    taken: dict[str, set[str]] = {}  # still shared (e.g. two tasks registered under one name): hash them
    for label, identity in zip(out, identities):
        taken.setdefault(label, set()).add(identity)
    return [label if len(taken[label]) == 1 else f"{label} [{_digest(identity)}]"
            for label, identity in zip(out, identities)]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def task_label_of(config: TrialConfig) -> str:
    """Task column label of a trial (see task_label)."""
    return task_label(config.task, config.task_params)


def params_key(params: Mapping[str, Any] | None) -> tuple[str, str]:
    """(digest, canonical JSON) of a task's parameters: how the task_facts table names a task instance."""
    canonical = _canonical(dict(params or {}))
    return hashlib.sha256(canonical.encode()).hexdigest(), canonical


def registry_task_facts(task: str, params: Mapping[str, Any] | None = None) -> tuple[bool | None, int | None]:
    """(commutative, number of classes) of a task instance, from the task registry (imports torch); (None,
    None) where the registry cannot build it."""
    try:
        import tasks  # noqa: PLC0415 - torch: at registration, never on report's path for a version-3 database

        built = tasks.get(task, **dict(params or {}))
    except Exception:  # noqa: BLE001 - unknown task, refused parameters, a registry being edited
        return None, None
    classes = getattr(built, "num_classes", None)
    commutative = getattr(built, "commutative", None)
    return (bool(commutative) if commutative is not None else None,
            classes if isinstance(classes, int) and not isinstance(classes, bool) else None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite starts transactions only before writes, so a read of several tables would see several
    # snapshots. Take transaction control from it; _sqlite_begin emits BEGIN for reads and writes alike.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")  # wait for the writer rather than fail
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at every checkpoint of the WAL; fast
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _enable_wal(engine: Engine) -> None:
    """WAL: readers never block the writer, nor it them. It is a property of the file, so it is set
    only once the file is known to be ours (never on a database we refuse), outside any transaction.
    Set only when not set yet: changing the journal mode takes a lock without waiting for it, so stores
    opening side by side (a reader beside the driver) would otherwise fail with 'database is locked'."""
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        if str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            connection.execute("PRAGMA journal_mode=WAL")
    finally:
        raw.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front (waiting for it under busy_timeout) where a transaction reads
    # before it writes and another writer may race it: a deferred one would fail at once with "database is
    # locked" when both try to upgrade their read locks.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """All reads and writes of sweep results. Cheap to construct; the engine opens on first use,
    so a Store can be pickled (Ray Tune pickles the callback that holds one)."""

    def __init__(self, url: str = DEFAULT_DB_URL, *, create: bool = True) -> None:
        self.url = normalize_url(url)
        self.create = create
        self._version: int | None = None  # the database's schema version, once opened
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "create": self.create, "_version": None, "_engine": None, "_sessions": None}

    # --- connection -------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The database's schema version (opens it): SCHEMA_VERSION, or an older one of READABLE_VERSIONS
        that a reader reads as is."""
        _ = self.engine
        assert self._version is not None
        return self._version

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            engine = self._open()
            if self.create and engine.dialect.name == "sqlite":
                # The writer's transactions (the driver's: its callback and its lease heartbeat write from
                # two threads) take SQLite's write lock up front, waiting under busy_timeout. A deferred one
                # that read first fails at once with "database is locked" when another commits meanwhile:
                # SQLite cannot upgrade a stale read snapshot. Readers (create=False) stay deferred.
                engine = engine.execution_options(sqlite_immediate=True)
            self._engine = engine
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    def _open(self) -> Engine:
        url = make_url(self.url)
        shown = mask_url(self.url)
        is_sqlite = url.get_backend_name() == "sqlite"
        path = _sqlite_path(url) if is_sqlite else None
        if path is not None:
            if path.exists() and path.is_dir():
                raise StoreError(f"database path {path} is a directory, not a file")
            if not path.exists():
                if not self.create or _sqlite_read_only(url):
                    raise StoreError(f"no database at {path} (run a sweep first, or pass --db URL)")
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {path}: {exc.strerror}") from exc
                if not os.access(path.parent, os.W_OK):
                    raise StoreError(f"cannot create database {path}: its folder {path.parent} is not writable; "
                                     "pass --db a path in a writable folder")
        connect_args: dict[str, Any] = {"timeout": 60} if is_sqlite else {}
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = 10  # an unreachable server fails in seconds, not minutes
        try:
            engine = create_engine(self.url, connect_args=connect_args)
        except ImportError as exc:
            raise StoreError(f"cannot use database URL {shown}: its driver is not installed ({exc}); for "
                             "PostgreSQL: pip install 'sdssm-sweep[postgres]'") from exc
        except (ArgumentError, ValueError) as exc:
            raise StoreError(f"cannot use database URL {shown}: {_without_url(exc, self.url)}") from exc
        if is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        try:
            self._check_or_create_schema(engine)
            if is_sqlite and not _sqlite_read_only(url):
                _enable_wal(engine)
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(f"cannot open database {shown}: {_reason(exc, self.url)}") from exc
        except StoreError:
            engine.dispose()
            raise
        return engine

    def _check_or_create_schema(self, engine: Engine) -> None:
        tables = set(inspect(engine).get_table_names())
        if Meta.__tablename__ not in tables:
            self._refuse_foreign(tables)
            if not self.create:
                raise StoreError(f"{mask_url(self.url)} is empty: no sdssm-sweep results in it yet")
            # Tables and version appear together, or not at all; two stores creating them at once (two
            # drivers started side by side) take turns, and the second finds the first one's tables.
            with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(7428311)"))  # 'sdssm' schema lock
                tables = set(inspect(connection).get_table_names())
                if Meta.__tablename__ not in tables:
                    self._refuse_foreign(tables)
                    Base.metadata.create_all(connection)
                    connection.execute(Meta.__table__.insert().values(key="schema_version",
                                                                      value=str(SCHEMA_VERSION)))
                    self._version = SCHEMA_VERSION
                    return
        version = _schema_version(engine)
        if version not in READABLE_VERSIONS:
            raise StoreError(f"{mask_url(self.url)} has schema version {version}; this sdssm-sweep reads versions "
                             f"{', '.join(map(str, READABLE_VERSIONS))}")
        if version != SCHEMA_VERSION and self.create and not _sqlite_read_only(make_url(self.url)):
            version = self._upgrade(engine)
        self._version = version

    def _upgrade(self, engine: Engine) -> int:
        """Bring an older database to SCHEMA_VERSION in one transaction (under the same lock as creating
        the schema, so two writers upgrade once). 2 -> 3: the task_facts table, filled for the trials
        already there. Returns the version now recorded."""
        with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7428311)"))
            version = int(connection.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar_one())
            if version == 2:
                Base.metadata.create_all(connection, tables=[TaskFact.__table__])
                instances = {(task, json.dumps((config or {}).get("task_params") or {}, sort_keys=True))
                             for task, config in connection.execute(select(Trial.task, Trial.config))}
                _insert_task_facts(connection, ((task, json.loads(params)) for task, params in instances))
                version = 3
            connection.execute(update(Meta).where(Meta.key == "schema_version").values(value=str(version)))
        return version

    def _refuse_foreign(self, tables: set[str]) -> None:
        if tables:
            raise StoreError(
                f"{mask_url(self.url)} is not an sdssm-sweep database (it has tables "
                f"{', '.join(sorted(tables)[:5])} but no sdssm_meta table); point --db at a new file or an "
                "sdssm-sweep database")

    @contextmanager
    def session(self, *, snapshot: bool = False) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error. A database that fails under
        it (read-only, gone, server down) raises StoreError naming the database (password hidden).

        snapshot=True: all its reads see one state of the database even while the driver writes (SQLite
        transactions always do; PostgreSQL's default READ COMMITTED does not, so it runs REPEATABLE READ)."""
        _ = self.engine
        assert self._sessions is not None
        bind = self.engine
        if snapshot and bind.dialect.name == "postgresql":
            bind = bind.execution_options(isolation_level="REPEATABLE READ")
        with self._database_errors(), self._sessions(bind=bind) as session, session.begin():
            yield session

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """Core's engine.begin(), with the database errors of session()."""
        with self._database_errors(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            reason = _reason(exc, self.url)
            hint = ("; the file or its folder is read-only (or the URL says mode=ro), and a sweep writes its "
                    "results there" if "readonly" in reason else "")
            raise StoreError(f"database {mask_url(self.url)} failed: {reason}{hint}") from exc

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None

    # --- writes (the sweep driver) ----------------------------------------------------------
    def register_sweep(self, name: str, configs: Sequence[TrialConfig], *, description: str = "",
                       spec_path: str = "", spec_text: str = "") -> None:
        """Create or update a sweep and add its trials as pending (existing trials keep their state).

        The sweep's members become exactly `configs`: a trial no longer in the spec (an edited YAML) leaves
        the sweep, so its tables never show it; the trial itself and its results stay in the store (another
        sweep may share it, and putting it back in the spec finds it done)."""
        stamp = now()
        with self.session() as session:
            sweep = session.scalar(select(Sweep).where(Sweep.name == name))
            if sweep is None:
                sweep = Sweep(name=name, created_at=stamp)
                session.add(sweep)
            sweep.description, sweep.spec_path, sweep.spec_text, sweep.updated_at = (
                description, spec_path, spec_text, stamp)
            session.flush()
            existing = {key for chunk in _chunks([c.key for c in configs])
                        for key in session.scalars(select(Trial.key).where(Trial.key.in_(chunk)))}
            members = set(session.scalars(select(SweepTrial.trial_key).where(SweepTrial.sweep_id == sweep.id)))
            for config in configs:
                if config.key not in existing:
                    session.add(_new_trial(config, stamp))
                    existing.add(config.key)
            session.flush()  # trials before the memberships that reference them
            for position, config in enumerate(configs):
                if config.key not in members:
                    session.add(SweepTrial(sweep_id=sweep.id, trial_key=config.key, position=position))
                    members.add(config.key)
            wanted = {config.key for config in configs}
            for chunk in _chunks(sorted(members - wanted)):
                session.execute(delete(SweepTrial).where(SweepTrial.sweep_id == sweep.id,
                                                         SweepTrial.trial_key.in_(chunk)))
            _insert_task_facts(session, ((c.task, c.task_params) for c in configs))

    def mark_running(self, key: str, *, node: str | None = None) -> None:
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status, trial.node, trial.error = TrialStatus.RUNNING, node or trial.node, None
            trial.attempts += 1
            trial.started_at = trial.started_at or now()
            trial.updated_at = now()

    def mark_attempt(self, key: str, *, node: str | None, start_step: int | None) -> None:
        """What the first report of an attempt tells: where it runs and the step it started from."""
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.node = node or trial.node
            trial.resumed_from_step = start_step

    def record_retry(self, key: str, error: str) -> None:
        """A failed attempt that Ray will retry from the trial's last checkpoint (the retry's start
        counts as the next attempt)."""
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status = TrialStatus.RUNNING
            trial.error = f"retrying after: {error}"
            trial.updated_at = now()

    def record_metrics(self, key: str, rows: Iterable[dict[str, Any]]) -> int:
        """Upsert periodic-evaluation rows keyed by (key, step); returns the number of rows written.

        On the hot path of the sweep callback (one call per reported evaluation), so it runs on
        SQLAlchemy Core: one executemany upsert and one conditional UPDATE in one transaction.
        """
        values = [{"trial_key": key, **{c: row.get(c) for c in _METRIC_COLUMNS}} for row in rows]
        if not values:
            return 0
        last = max(values, key=lambda v: v["step"])
        with self._begin() as connection:
            _upsert(connection, Metric, values, index=("trial_key", "step"))
            connection.execute(_ADVANCE_TRIAL, {"b_key": key, "b_step": last["step"],
                                                "b_wall": last["wall_time_s"], "b_stamp": now()})
        return len(values)

    def record_checkpoint(self, key: str, path: str) -> None:
        with self.session() as session:
            _get_trial(session, key).checkpoint_path = path

    def record_final(self, key: str, *, status: TrialStatus | str, accuracy_by_length: Sequence[float] | None,
                     summary: dict[str, Any]) -> None:
        """The trial's outcome: status, final per-length accuracies (length 1 first) and summary numbers
        (steps, wall_time_s, solved_step, solved_wall_time_s, in_range_accuracy, beyond_accuracy).
        `status` is a TrialStatus or its value ('solved'); anything else raises ValueError."""
        try:
            status = TrialStatus(status)
        except ValueError:
            known = ", ".join(s.value for s in TrialStatus)
            raise ValueError(f"unknown status {status!r} (known: {known})") from None
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status = status
            for name in ("steps", "wall_time_s", "solved_step", "solved_wall_time_s", "in_range_accuracy",
                         "beyond_accuracy"):
                if name in summary:
                    setattr(trial, name, summary[name])
            trial.error = summary.get("error")
            trial.finished_at = trial.updated_at = now()
            if accuracy_by_length is not None:
                values = [{"trial_key": key, "length": i + 1, "accuracy": finite_or_none(a)}
                          for i, a in enumerate(accuracy_by_length)]
                _upsert(session, LengthAccuracy, values, index=("trial_key", "length"))

    def record_failure(self, key: str, error: str) -> None:
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status, trial.error = TrialStatus.FAILED, error
            trial.finished_at = trial.updated_at = now()

    def reset_interrupted(self, keys: Iterable[str]) -> None:
        """Trials left running (a driver that died) or interrupted (a driver that was stopped) go back to
        pending before a rerun."""
        with self.session() as session:
            for chunk in _chunks(keys):
                session.execute(update(Trial).where(
                    Trial.key.in_(chunk), Trial.status.in_([TrialStatus.RUNNING, TrialStatus.INTERRUPTED])
                ).values(status=TrialStatus.PENDING))

    def mark_interrupted(self, trial_keys: Iterable[str]) -> int:
        """Those of the trials that are running become interrupted (their driver is stopping); returns how
        many did. Trials in any other status are left alone."""
        changed = 0
        with self.session() as session:
            for chunk in _chunks(trial_keys):
                result = session.execute(update(Trial).where(
                    Trial.key.in_(chunk), Trial.status == TrialStatus.RUNNING
                ).values(status=TrialStatus.INTERRUPTED, updated_at=now()))
                changed += result.rowcount or 0
        return changed

    def record_restore_note(self, trial_key: str, note: str) -> None:
        """How the trial's last attempt restored its checkpoint (or why it started afresh)."""
        with self.session() as session:
            _get_trial(session, trial_key).restore_note = note

    # --- the driver lease -------------------------------------------------------------------
    def acquire_lease(self, sweep_name: str, *, stale_after_s: float = 30.0) -> DriverLease:
        """Become the one live driver of `sweep_name` on this database, or raise LeaseHeldError naming the
        live one. A lease whose heartbeat is older than stale_after_s, or whose holder was a process of this
        host that no longer exists, is taken over (the new lease's took_over_from says whose it was).

        Safe when drivers race: a fresh lease is an INSERT that fails on the sweep's primary key, and a
        takeover is an UPDATE conditional on the old holder's token and stale heartbeat, so of two racers
        exactly one wins and the other is refused."""
        mine = DriverLease(sweep=sweep_name, host=socket.gethostname(), pid=os.getpid(), token=uuid.uuid4().hex,
                           since=now(), heartbeat_at=now())
        row = {"sweep": mine.sweep, "host": mine.host, "pid": mine.pid, "token": mine.token,
               "since": mine.since, "heartbeat_at": mine.heartbeat_at}
        for _ in range(5):  # each pass either wins, refuses, or saw the row change under it (a racer)
            try:
                with self._begin() as connection:
                    connection.execute(DriverLeaseRow.__table__.insert().values(**row))
                return mine
            except IntegrityError:
                pass  # a lease row exists: a live driver, or a stale one to take over
            held = self._lease_row(sweep_name)
            if held is None:
                continue  # released in between: try the insert again
            if not _is_stale(held, stale_after_s):
                raise LeaseHeldError(self._held_message(held, stale_after_s))
            with self._begin() as connection:
                taken = connection.execute(update(DriverLeaseRow).where(
                    DriverLeaseRow.sweep == sweep_name, DriverLeaseRow.token == held.token,
                    DriverLeaseRow.heartbeat_at == held.heartbeat_at,
                ).values(**row)).rowcount
            if taken == 1:
                age = (now() - _utc(held.heartbeat_at)).total_seconds()
                return DriverLease(**{**row, "took_over_from": f"{held.describe()} (last heartbeat {age:.0f} s ago)"})
        raise LeaseHeldError(f"could not take the driver lease of sweep {sweep_name!r} in {mask_url(self.url)}: "
                             "other drivers keep changing it; stop them and run again")

    def renew_lease(self, lease: DriverLease) -> None:
        """The holder's heartbeat. Raises LeaseHeldError when the lease is no longer this holder's (another
        driver took it over after this one stalled, or it was released)."""
        with self._begin() as connection:
            renewed = connection.execute(update(DriverLeaseRow).where(
                DriverLeaseRow.sweep == lease.sweep, DriverLeaseRow.token == lease.token,
            ).values(heartbeat_at=now())).rowcount
        if renewed != 1:
            held = self._lease_row(lease.sweep)
            holder = f"another driver holds it now ({held.describe()})" if held else "it was released"
            raise LeaseHeldError(f"this driver lost its lease on sweep {lease.sweep!r} in {mask_url(self.url)}: "
                                 f"{holder}; stop this driver (its results would interleave with the other's)")

    def release_lease(self, lease: DriverLease) -> None:
        """Give the lease up (only if still this holder's; a lease taken over stays the new holder's)."""
        with self._begin() as connection:
            connection.execute(delete(DriverLeaseRow).where(
                DriverLeaseRow.sweep == lease.sweep, DriverLeaseRow.token == lease.token))

    def live_lease(self, sweep_name: str, *, stale_after_s: float = 30.0) -> DriverLease | None:
        """The live driver's lease of `sweep_name`, or None when there is none (or only a stale one)."""
        held = self._lease_row(sweep_name)
        return None if held is None or _is_stale(held, stale_after_s) else held

    def _lease_row(self, sweep_name: str) -> DriverLease | None:
        with self.session() as session:
            row = session.get(DriverLeaseRow, sweep_name)
            if row is None:
                return None
            return DriverLease(sweep=row.sweep, host=row.host, pid=row.pid, token=row.token,
                               since=_utc(row.since), heartbeat_at=_utc(row.heartbeat_at))

    def _held_message(self, held: DriverLease, stale_after_s: float) -> str:
        age = (now() - held.heartbeat_at).total_seconds()
        return (f"sweep {held.sweep!r} already has a live driver in {mask_url(self.url)}: {held.describe()} "
                f"(last heartbeat {age:.0f} s ago). Wait for it to finish, or stop it (Ctrl-C, or kill {held.pid} "
                f"on {held.host}) and run again; a driver that died is taken over once its heartbeat is more "
                f"than {stale_after_s:g} s old")

    # --- reads ------------------------------------------------------------------------------
    def statuses(self, keys: Iterable[str] | None = None) -> dict[str, TrialStatus]:
        with self.session() as session:
            if keys is None:
                return {key: status for key, status in session.execute(select(Trial.key, Trial.status))}
            return {key: status for chunk in _chunks(keys)
                    for key, status in session.execute(select(Trial.key, Trial.status).where(Trial.key.in_(chunk)))}

    def checkpoint_paths(self, keys: Iterable[str]) -> dict[str, str]:
        with self.session() as session:
            return {key: path for chunk in _chunks(keys) for key, path in session.execute(
                select(Trial.key, Trial.checkpoint_path).where(Trial.key.in_(chunk))) if path}

    def sweep_names(self) -> list[str]:
        with self.session() as session:
            return list(session.scalars(select(Sweep.name).order_by(Sweep.created_at)))

    def sweep_descriptions(self, names: Sequence[str]) -> dict[str, str]:
        """The description each named sweep's spec file gave ('' for none), in the order of `names`."""
        with self.session() as session:
            query = select(Sweep.name, Sweep.description).where(Sweep.name.in_(list(names)))
            found = dict(session.execute(query).all())
        return {name: found.get(name) or "" for name in names}

    def task_facts(self) -> dict[tuple[str, str], tuple[bool | None, int | None]]:
        """(task, canonical JSON of its parameters) -> (commutative, number of classes), as recorded when the
        trials were registered. Empty for a version-2 database (read as is): callers ask the registry."""
        if self.version < 3:
            return {}
        with self.session() as session:
            rows = session.execute(select(TaskFact.task, TaskFact.params, TaskFact.commutative, TaskFact.num_classes))
            return {(task, params): (commutative, classes) for task, params, commutative, classes in rows}

    def sweeps_by_last_run(self) -> list[str]:
        """Sweep names, the most recently run first (a rerun of an older sweep makes it the latest)."""
        with self.session() as session:
            return list(session.scalars(select(Sweep.name).order_by(Sweep.updated_at.desc(), Sweep.id.desc())))

    def peak_accuracies(self, keys: Iterable[str]) -> dict[str, float]:
        """Per trial, the highest beyond-training accuracy of its periodic evaluations (eval_samples
        strings per length): a peak, not the final evaluation the report uses. Trials without one are absent."""
        with self.session() as session:
            return {key: peak for chunk in _chunks(keys) for key, peak, _ in session.execute(
                _PEAKS.where(Metric.trial_key.in_(chunk))) if peak is not None}

    def trials(self, sweeps: Sequence[str] | None = None) -> list[Trial]:
        """Trials (detached ORM rows), of the named sweeps or all."""
        with self.session() as session:
            query = select(Trial).order_by(Trial.task, Trial.model, Trial.seed)
            if sweeps:
                query = query.where(Trial.key.in_(_member_keys(sweeps)))
            return list(session.scalars(query))

    def trials_by_key(self, keys: Iterable[str]) -> list[Trial]:
        """The trials (detached ORM rows) with these keys; unknown keys are left out."""
        with self.session() as session:
            return [trial for chunk in _chunks(keys)
                    for trial in session.scalars(select(Trial).where(Trial.key.in_(chunk)))]

    def sweep_configs(self, name: str) -> list[TrialConfig]:
        """The configs of a sweep's member trials in the order they joined it (none for an unknown sweep)."""
        with self.session() as session:
            rows = session.scalars(select(Trial.config).join(SweepTrial, SweepTrial.trial_key == Trial.key)
                                   .join(Sweep, SweepTrial.sweep_id == Sweep.id).where(Sweep.name == name)
                                   .order_by(SweepTrial.position))
            return [TrialConfig.from_dict(config) for config in rows]

    def frames(self, sweeps: Sequence[str] | None = None,
               tables: Sequence[str] = ("trials", "metrics", "lengths")) -> dict[str, Any]:
        """pandas DataFrames for analysis, read in one transaction (a consistent snapshot):
        'memberships' always, plus the named `tables` among 'trials', 'metrics', 'lengths', and 'peaks'
        (key, peak_beyond_accuracy, n_evals: each trial's best periodic evaluation, see peak_accuracies)."""
        import pandas as pd

        models = {"trials": Trial, "metrics": Metric, "lengths": LengthAccuracy}
        unknown = set(tables) - set(models) - {"peaks"}
        if unknown:
            raise ValueError(f"unknown table(s) {', '.join(sorted(unknown))} (known: {', '.join(models)})")
        with self.session(snapshot=True) as session:
            member_query = select(Sweep.name.label("sweep"), SweepTrial.trial_key.label("key")).join(
                SweepTrial, SweepTrial.sweep_id == Sweep.id)
            if sweeps:
                member_query = member_query.where(Sweep.name.in_(list(sweeps)))
            memberships = pd.DataFrame(session.execute(member_query).all(), columns=["sweep", "key"])
            frames = {"memberships": memberships}
            for name in tables:
                if name == "peaks":
                    query = _PEAKS.where(Metric.trial_key.in_(_member_keys(sweeps))) if sweeps else _PEAKS
                    frames[name] = pd.DataFrame(session.execute(query).all(),
                                                columns=["key", "peak_beyond_accuracy", "n_evals"])
                    continue
                table = models[name].__table__
                query = select(table)
                if sweeps:
                    key_column = table.c.key if name == "trials" else table.c.trial_key
                    query = query.where(key_column.in_(_member_keys(sweeps)))
                frames[name] = pd.DataFrame(session.execute(query).all(), columns=[c.name for c in table.columns])
        if "trials" in frames:
            frames["trials"]["config"] = frames["trials"]["config"].map(json.dumps)
            frames["trials"]["status"] = frames["trials"]["status"].map(str)  # plain values: 'solved'
        return frames


# A trial's step counter only moves forward (a resumed trial may report an old step again).
_ADVANCE_TRIAL = (
    update(Trial)
    .where(Trial.key == bindparam("b_key"), or_(Trial.steps.is_(None), Trial.steps <= bindparam("b_step")))
    .values(steps=bindparam("b_step"), wall_time_s=bindparam("b_wall"), updated_at=bindparam("b_stamp")))

_PEAKS = select(Metric.trial_key, func.max(Metric.beyond_accuracy), func.count(Metric.id)).group_by(Metric.trial_key)

_METRIC_COLUMNS = ("step", "loss", "train_accuracy", "in_range_accuracy", "beyond_accuracy", "wall_time_s")


def _member_keys(sweeps: Sequence[str]) -> Any:
    return select(SweepTrial.trial_key).join(Sweep, SweepTrial.sweep_id == Sweep.id).where(
        Sweep.name.in_(list(sweeps)))


def _chunks(keys: Iterable[str], size: int = 10_000) -> Iterator[list[str]]:
    """Keys in slices that stay under SQLite's bound-parameter limit (32,766) in an IN (...) clause;
    a sweep may have up to 100,000 trials."""
    keys = list(keys)
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


def _schema_version(engine: Engine) -> int | None:
    with Session(engine) as session:
        row = session.get(Meta, "schema_version")
    return int(row.value) if row is not None else None


def _insert_task_facts(connection: Session | Connection,
                       instances: Iterable[tuple[str, Mapping[str, Any] | None]]) -> None:
    """Record the facts of the task instances not recorded yet (the registry builds each new one once)."""
    wanted = {}
    for task, params in instances:
        digest, canonical = params_key(params)
        wanted.setdefault((task, digest), (canonical, params))
    if not wanted:
        return
    known = set(connection.execute(select(TaskFact.task, TaskFact.params_digest).where(
        TaskFact.task.in_(sorted({task for task, _ in wanted})))).all())
    rows = []
    for (task, digest), (canonical, params) in wanted.items():
        if (task, digest) not in known:
            commutative, classes = registry_task_facts(task, params)
            rows.append({"task": task, "params_digest": digest, "params": canonical, "commutative": commutative,
                         "num_classes": classes})
    if rows:  # an upsert: two drivers registering the same new task at once both succeed
        _upsert(connection, TaskFact, rows, ("task", "params_digest"))


def _get_trial(session: Session, key: str) -> Trial:
    trial = session.get(Trial, key)
    if trial is None:
        raise KeyError(f"no trial {key} in the store (register its sweep first)")
    return trial


def _new_trial(config: TrialConfig, stamp: datetime) -> Trial:
    used = config.normalized()
    return Trial(
        key=config.key, config=config.to_dict(), task=config.task, task_label=task_label_of(config),
        model=config.model, readout=config.readout, variant=variant_of(config), seed=config.seed,
        lr=config.lr, weight_decay=config.weight_decay, k=used.get("k"), p=used.get("p"),
        state_size=config.state_size, query_token=config.query_token,
        train_max_length=config.train_max_length, test_max_length=config.test_max_length,
        status=TrialStatus.PENDING, attempts=0, updated_at=stamp)


def _upsert(connection: Session | Connection, model: type[Base], values: list[dict[str, Any]],
            index: tuple[str, ...]) -> None:
    """INSERT ... ON CONFLICT (index) DO UPDATE, executed as one executemany (SQLite, PostgreSQL);
    a select-then-insert-or-update loop on other backends."""
    dialect = connection.get_bind().dialect.name if isinstance(connection, Session) else connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        connection.execute(_upsert_statement(dialect, model, tuple(values[0]), index), values)
        return
    table = model.__table__
    for row in values:
        match = [table.c[c] == row[c] for c in index]
        if connection.execute(select(table).where(*match)).first() is None:
            connection.execute(table.insert().values(**row))
        else:
            connection.execute(table.update().where(*match).values(**row))


@functools.lru_cache(maxsize=32)
def _upsert_statement(dialect: str, model: type[Base], columns: tuple[str, ...], index: tuple[str, ...]) -> Any:
    """Built once per shape: constructing `excluded` costs more than executing the statement."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    statement = insert(model)
    updates = {c: statement.excluded[c] for c in columns if c not in index}
    return statement.on_conflict_do_update(index_elements=list(index), set_=updates)


def _utc(stamp: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stamp the store writes is UTC."""
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=timezone.utc)


def _iso(stamp: datetime) -> str:
    return _utc(stamp).astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _is_stale(lease: DriverLease, stale_after_s: float) -> bool:
    """Its heartbeat is older than stale_after_s, or its holder was a process of this host that is gone."""
    if now() - lease.heartbeat_at > timedelta(seconds=stale_after_s):
        return True
    return lease.host == socket.gethostname() and not _pid_alive(lease.pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def mask_url(url: str) -> str:
    """The URL with its password hidden ('postgresql://u:***@host/db'), for every message and report.
    Text that SQLAlchemy cannot parse (a bad port, say) still has any 'user:password@' masked."""
    try:
        parsed = make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1***@", url)


_PASSWORD = re.compile(r"(://[^:/@]*:)[^/]*@")


def normalize_url(url: str) -> str:
    """The URL the store connects with, or StoreError naming what is wrong (password hidden).

    - A bare file path is shorthand for sqlite:///PATH; SQLite paths become absolute (Ray trials chdir
      into their own folders).
    - SQLite URI parameters are honoured with uri=true: sqlite:///results/r.db?mode=ro&uri=true opens
      file:/abs/results/r.db?mode=ro. Without uri=true a SQLite URL takes no query options (SQLite would
      silently ignore them), so any is refused, named.
    - postgres:// and postgresql:// use psycopg (version 3, the `postgres` extra); a URL naming another
      driver (postgresql+psycopg2://) keeps it."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    try:
        parsed = make_url(url)
        _ = parsed.port  # parsed lazily by some SQLAlchemy versions
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"cannot parse database URL {mask_url(url)}: {_url_problem(url, exc)}; expected "
                         "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DBNAME") from exc
    if parsed.drivername in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    query = dict(parsed.query)
    if str(query.get("uri", "")).lower() not in ("true", "1"):
        if query:
            raise StoreError(f"SQLite URL {mask_url(url)} has query option(s) {', '.join(sorted(query))}, which "
                             "SQLite ignores without uri=true; drop them, or add uri=true to pass SQLite URI "
                             "parameters (sqlite:///PATH?mode=ro&uri=true)")
        return f"sqlite:///{Path(parsed.database).expanduser().resolve()}"
    database = parsed.database.removeprefix("file:")
    absolute = database if database.startswith("/") else str(Path(database).expanduser().resolve())
    options = "&".join(f"{key}={value}" for key, values in query.items()
                       for value in (values if isinstance(values, tuple) else (values,)))
    return f"sqlite:///file:{absolute}?{options}"


def _sqlite_path(url: Any) -> Path | None:
    """The file of a SQLite URL (None in memory), also for file: URIs (uri=true)."""
    database = url.database
    if not database or database == ":memory:":
        return None
    return Path(database.removeprefix("file:"))


def _sqlite_read_only(url: Any) -> bool:
    """mode=ro or immutable=1 among the SQLite URI parameters: nothing may be written (not even WAL mode)."""
    return url.query.get("mode") == "ro" or url.query.get("immutable") in ("1", "true")


def _url_problem(url: str, exc: Exception) -> str:
    port = re.search(r"@[^/:]*:([^/]*)", url)
    if port and not port.group(1).isdigit():
        return f"its port {port.group(1)!r} is not a number"
    return "not a URL SQLAlchemy can read"


def _reason(exc: DBAPIError, url: str) -> str:
    """The driver's own words for a database error, without the statement or the password."""
    return _without_url(exc.orig if exc.orig is not None else exc, url).strip().splitlines()[0]


def _without_url(exc: BaseException, url: str) -> str:
    text = str(exc)
    password = make_url(url).password
    return text.replace(str(password), "***") if password else text
